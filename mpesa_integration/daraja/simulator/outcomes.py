"""How the simulator decides outcomes: the result-code tables (by the phone's or PartyB's last four digits) and
OutcomesMixin, the SimulatorServer methods that settle an async request (B2C, Transaction Status, Account Balance,
Reversal) or a C2B payment at once (balances and ledger move then) and build the Result or confirmation body that
the server delivers later."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mpesa_integration.daraja.simulator.constants import (
    C2B_COMMAND_IDS,
    CUSTOMER_FIRST_NAME,
    CUSTOMER_LAST_NAME,
    NAIROBI,
    ORGANISATION_NAME,
)
from mpesa_integration.daraja.simulator.state import AsyncJob, C2BJob, LedgerEntry
from mpesa_integration.daraja.simulator.values import compact_time, mask_msisdn, money

if TYPE_CHECKING:
    from mpesa_integration.daraja.simulator.server import SimulatorServer

#: STK: last 4 digits of the phone -> (ResultCode, ResultDesc). Anything else succeeds.
OUTCOMES: dict[str, tuple[int, str]] = {
    "1032": (1032, "Request cancelled by user"),
    "1037": (1037, "DS timeout user cannot be reached"),
    "2001": (2001, "The initiator information is invalid."),
    "0001": (1, "The balance is insufficient for the transaction."),
}
SUCCESS = (0, "The service request is processed successfully.")
ABOVE_MAXIMUM = (3, "Declined due to limit rule: greater than the maximum transaction amount.")
RULE_LIMITED = (17, "Rule limited.")

INITIATOR_INVALID = (2001, "The initiator information is invalid.")
NOT_PERMITTED = (2028, "The request is not permitted according to product assignment.")
#: B2C: last 4 digits of PartyB -> (ResultCode, ResultDesc). "1037" is the queue timeout; anything else succeeds.
B2C_OUTCOMES: dict[str, tuple[int, str]] = {
    "0001": (1, "The balance is insufficient for the transaction."),
    "2040": (
        2040,
        "Credit Party customer type (Unregistered or Registered Customer) can't be supported by the service.",
    ),
    "2001": INITIATOR_INVALID,
}
B2C_QUEUE_TIMEOUT_SUFFIX = "1037"
QUEUE_TIMEOUT = ("SVC0403", "The request was not processed in time (queue timeout). Confirm with Transaction Status.")
STATUS_NOT_FOUND = ("R000001", "The transaction is not found")
REVERSAL_INVALID = ("R000002", "The OriginalTransactionID is invalid")


class OutcomesMixin:
    """Mixed into SimulatorServer (these methods use its lock, ledger, balances, ids and post())."""

    @staticmethod
    def result_body(
        result_code: int | str,
        result_desc: str,
        originator_conversation_id: str,
        conversation_id: str,
        transaction_id: str,
        parameters: list[tuple[str, Any]] | None = None,
        reference: list[tuple[str, Any]] | None = None,
    ) -> dict:
        """The Result shape of daraja.md §1.7: ResultParameters.ResultParameter list, ReferenceData.ReferenceItem
        (a single dict when there is one item, as Daraja sends it). A None value is sent as a Key without Value."""

        def pairs(items: list[tuple[str, Any]]) -> list[dict]:
            return [{"Key": key} if value is None else {"Key": key, "Value": value} for key, value in items]

        result: dict[str, Any] = {
            "ResultType": 0,
            "ResultCode": result_code,
            "ResultDesc": result_desc,
            "OriginatorConversationID": originator_conversation_id,
            "ConversationID": conversation_id,
            "TransactionID": transaction_id,
        }
        if parameters:
            result["ResultParameters"] = {"ResultParameter": pairs(parameters)}
        if reference:
            items = pairs(reference)
            result["ReferenceData"] = {"ReferenceItem": items[0] if len(items) == 1 else items}
        return {"Result": result}

    def balance_string(self: SimulatorServer) -> str:
        """AccountBalance as Daraja formats it: sections joined by "&", name|currency|available|uncleared|reserved|x."""
        with self.lock:
            utility, working = self.utility_balance, self.working_balance
        accounts = [
            ("Working Account", working),
            ("Float Account", Decimal("0")),
            ("Utility Account", utility),
            ("Charges Paid Account", Decimal("0")),
            ("Organization Settlement Account", Decimal("0")),
        ]
        return "&".join(f"{name}|KES|{amount:.2f}|0.00|0.00|0.00" for name, amount in accounts)

    def process_b2c(
        self: SimulatorServer, body: dict, originator: str, conversation_id: str, amount: int, msisdn: str
    ) -> AsyncJob:
        """Decide a B2C's outcome now (balances move now); its Result is delivered later."""
        result_url, timeout_url = body["ResultURL"], body["QueueTimeOutURL"]
        reference = [("QueueTimeoutURL", timeout_url)]

        def job(kind: str, url: str, code: int | str, desc: str, txn_id: str = "", params: Any = None) -> AsyncJob:
            result = self.result_body(code, desc, originator, conversation_id, txn_id, params, reference)
            return AsyncJob(kind, originator, conversation_id, url, result)

        if not self.initiator_valid(body.get("InitiatorName"), body.get("SecurityCredential")):
            return job("b2c_result", result_url, *INITIATOR_INVALID, txn_id=self.new_receipt())
        if str(body.get("PartyA")) != self.b2c_shortcode:
            return job("b2c_result", result_url, *NOT_PERMITTED, txn_id=self.new_receipt())
        suffix = msisdn[-4:]
        if suffix == B2C_QUEUE_TIMEOUT_SUFFIX:
            return job("b2c_timeout", timeout_url, *QUEUE_TIMEOUT)
        if suffix in B2C_OUTCOMES:
            return job("b2c_result", result_url, *B2C_OUTCOMES[suffix], txn_id=self.new_receipt())
        with self.lock:
            funded = self.utility_balance >= amount
            if funded:
                self.utility_balance -= amount
            utility, working = self.utility_balance, self.working_balance
        if not funded:
            return job("b2c_result", result_url, *B2C_OUTCOMES["0001"], txn_id=self.new_receipt())
        receipt = self.new_receipt()
        now = datetime.now(tz=NAIROBI)
        receiver = f"{msisdn} - {CUSTOMER_FIRST_NAME} {CUSTOMER_LAST_NAME}"
        with self.lock:
            self.ledger[receipt] = LedgerEntry(
                receipt=receipt,
                kind="b2c",
                amount=amount,
                msisdn=msisdn,
                debit_party=f"{self.b2c_shortcode} - {ORGANISATION_NAME}",
                credit_party=receiver,
                initiated_at=now,
                finalised_at=now,
                originator_conversation_id=originator,
                conversation_id=conversation_id,
            )
            self.ledger_by_originator[originator] = receipt
        parameters = [
            ("TransactionAmount", amount),
            ("TransactionReceipt", receipt),
            ("B2CRecipientIsRegisteredCustomer", "Y"),
            ("B2CChargesPaidAccountAvailableFunds", 0.00),
            ("ReceiverPartyPublicName", receiver),
            ("TransactionCompletedDateTime", now.strftime("%d.%m.%Y %H:%M:%S")),
            ("B2CUtilityAccountAvailableFunds", money(utility)),
            ("B2CWorkingAccountAvailableFunds", money(working)),
        ]
        return job("b2c_result", result_url, *SUCCESS, txn_id=receipt, params=parameters)

    def process_status(self: SimulatorServer, body: dict, originator: str, conversation_id: str) -> AsyncJob:
        result_url = body["ResultURL"]
        occasion = body.get("Occasion", body.get("Occassion")) or None
        reference = [("Occasion", occasion)]
        if not self.initiator_valid(body.get("Initiator"), body.get("SecurityCredential")):
            result = self.result_body(*INITIATOR_INVALID, originator, conversation_id, "", None, reference)
            return AsyncJob("status", originator, conversation_id, result_url, result)
        receipt = str(body.get("TransactionID") or "")
        with self.lock:
            entry = self.ledger.get(receipt)
            if entry is None and not receipt:
                found = self.ledger_by_originator.get(str(body.get("OriginalConversationID") or ""))
                entry = self.ledger.get(found) if found else None
        if entry is None:
            result = self.result_body(*STATUS_NOT_FOUND, originator, conversation_id, "", None, reference)
            return AsyncJob("status", originator, conversation_id, result_url, result)
        b2c = entry.kind == "b2c"
        parameters = [
            ("DebitPartyName", entry.debit_party),
            ("CreditPartyName", entry.credit_party),
            ("OriginatorConversationID", entry.originator_conversation_id or None),
            ("InitiatedTime", int(compact_time(entry.initiated_at))),
            ("DebitAccountType", "Utility Account" if b2c else "MMF Account For Customer"),
            ("DebitPartyCharges", "Fee For B2C Payment|KES|0.00" if b2c else None),
            ("TransactionReason", None),
            ("ReasonType", "Business Payment to Customer via API" if b2c else "Pay Bill Online"),
            ("TransactionStatus", "Reversed" if entry.reversed else "Completed"),
            ("FinalisedTime", int(compact_time(entry.finalised_at))),
            ("Amount", entry.amount),
            ("ConversationID", entry.conversation_id or None),
            ("ReceiptNo", entry.receipt),
        ]
        # Daraja puts a placeholder, not the receipt, in the Result's TransactionID: read ReceiptNo.
        placeholder = f"{entry.receipt[:3]}0000000"
        result = self.result_body(*SUCCESS, originator, conversation_id, placeholder, parameters, reference)
        return AsyncJob("status", originator, conversation_id, result_url, result)

    def process_balance(self: SimulatorServer, body: dict, originator: str, conversation_id: str) -> AsyncJob:
        result_url = body["ResultURL"]
        reference = [("QueueTimeoutURL", body["QueueTimeOutURL"])]
        if not self.initiator_valid(body.get("Initiator"), body.get("SecurityCredential")):
            result = self.result_body(*INITIATOR_INVALID, originator, conversation_id, "", None, reference)
            return AsyncJob("balance", originator, conversation_id, result_url, result)
        parameters = [
            ("AccountBalance", self.balance_string()),
            ("BOCompletedTime", int(compact_time(datetime.now(tz=NAIROBI)))),
        ]
        placeholder = f"{self.new_receipt()[:3]}0000000"
        result = self.result_body(*SUCCESS, originator, conversation_id, placeholder, parameters, reference)
        return AsyncJob("balance", originator, conversation_id, result_url, result)

    def process_reversal(self: SimulatorServer, body: dict, originator: str, conversation_id: str) -> AsyncJob:
        result_url = body["ResultURL"]
        reference = [("QueueTimeoutURL", body["QueueTimeOutURL"])]
        if not self.initiator_valid(body.get("Initiator"), body.get("SecurityCredential")):
            result = self.result_body(*INITIATOR_INVALID, originator, conversation_id, "", None, reference)
            return AsyncJob("reversal", originator, conversation_id, result_url, result)
        original = str(body.get("TransactionID"))
        with self.lock:
            entry = self.ledger.get(original)
            valid = entry is not None and not entry.reversed and entry.kind != "b2c"
            if valid:
                assert entry is not None
                entry.reversed = True
                self.utility_balance -= entry.amount
            utility = self.utility_balance
        if not valid or entry is None:
            result = self.result_body(*REVERSAL_INVALID, originator, conversation_id, "", None, reference)
            return AsyncJob("reversal", originator, conversation_id, result_url, result)
        parameters = [
            ("DebitAccountBalance", f"Utility Account|KES|{utility:.2f}|0.00|0.00|0.00"),
            ("Amount", entry.amount),
            ("TransCompletedTime", int(compact_time(datetime.now(tz=NAIROBI)))),
            ("OriginalTransactionID", entry.receipt),
            ("Charge", 0),
            ("CreditPartyPublicName", entry.debit_party),  # the customer who paid gets the money back
            ("DebitPartyPublicName", entry.credit_party),
        ]
        result = self.result_body(*SUCCESS, originator, conversation_id, self.new_receipt(), parameters, reference)
        return AsyncJob("reversal", originator, conversation_id, result_url, result)

    # ---- C2B

    def c2b_payload(
        self: SimulatorServer, job: C2BJob, *, org_balance: str = "", third_party_trans_id: str = ""
    ) -> dict:
        """The validation/confirmation body (identical keys, daraja.md §1.8); MSISDN masked, TransAmount a string."""
        return {
            "TransactionType": C2B_COMMAND_IDS[job.command_id],
            "TransID": job.trans_id,
            "TransTime": job.trans_time,
            "TransAmount": f"{job.amount}.00",
            "BusinessShortCode": job.shortcode,
            "BillRefNumber": job.bill_ref_number,
            "InvoiceNumber": "",
            "OrgAccountBalance": org_balance,
            "ThirdPartyTransID": third_party_trans_id,
            "MSISDN": mask_msisdn(job.msisdn),
            "FirstName": CUSTOMER_FIRST_NAME,
            "MiddleName": "",
            "LastName": CUSTOMER_LAST_NAME,
        }

    def process_c2b(self: SimulatorServer, originator_conversation_id: str) -> None:
        """Validation (when enabled and a ValidationURL is registered), then confirmation, like Daraja:
        accepted -> confirm; rejected -> nothing; validation URL unreachable -> follow ResponseType."""
        with self.lock:
            job = self.c2b_jobs[originator_conversation_id]
            urls = dict(self.c2b_urls[job.shortcode])
        third_party = ""
        if self.c2b_external_validation and urls.get("ValidationURL"):
            body = self.c2b_payload(job)
            status, reply = self.post("c2b_validation", urls["ValidationURL"], body, self.c2b_validation_timeout)
            job.validation_reply = reply
            reachable = status is not None and 200 <= status < 300 and isinstance(reply, dict) and "ResultCode" in reply
            if reachable:
                assert isinstance(reply, dict)
                if str(reply["ResultCode"]).strip() != "0":
                    job.status = "rejected"
                    return
                third_party = str(reply.get("ThirdPartyTransID") or "")
            elif urls["ResponseType"] != "Completed":
                job.status = "cancelled"
                return
        now = datetime.now(tz=NAIROBI)
        with self.lock:
            self.utility_balance += job.amount
            balance = self.utility_balance
            self.ledger[job.trans_id] = LedgerEntry(
                receipt=job.trans_id,
                kind="c2b",
                amount=job.amount,
                msisdn=job.msisdn,
                debit_party=f"{job.msisdn} - {CUSTOMER_FIRST_NAME} {CUSTOMER_LAST_NAME}",
                credit_party=f"{job.shortcode} - {ORGANISATION_NAME}",
                initiated_at=now,
                finalised_at=now,
            )
        job.confirmation_url = urls["ConfirmationURL"]
        job.confirmation_body = self.c2b_payload(job, org_balance=f"{balance:.2f}", third_party_trans_id=third_party)
        job.status = "confirmed"
        self.deliver_c2b_confirmation(originator_conversation_id)
