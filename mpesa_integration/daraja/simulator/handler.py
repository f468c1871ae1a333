"""SimulatorHandler: the HTTP side of the simulator. It routes each Daraja path (OAuth, STK Push/Query, B2C,
Transaction Status, Account Balance, Reversal, C2B register/simulate) and the control API to a method that checks
the fields as Daraja does and answers at once. An STK push's outcome is picked here (outcomes.OUTCOMES, the
duplicate window); the async outcomes and every callback/Result delivery are left to the SimulatorServer."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from mpesa_integration.daraja import errors
from mpesa_integration.daraja.simulator.constants import (
    ACCEPTED,
    ASYNC_ACCEPTED,
    B2C_COMMAND_IDS,
    BEING_PROCESSED,
    C2B_COMMAND_IDS,
    C2B_FORBIDDEN_URL_WORDS,
    MSISDN_RE,
    NAIROBI,
    SHORTCODE_RE,
    STK_PUSH_PATH,
    URL_RE,
)
from mpesa_integration.daraja.simulator.outcomes import ABOVE_MAXIMUM, OUTCOMES, RULE_LIMITED, SUCCESS
from mpesa_integration.daraja.simulator.state import C2BJob, StkTransaction
from mpesa_integration.daraja.simulator.values import (
    DarajaHTTPError,
    bad_request,
    compact_time,
    normalize_phone,
    whole_amount,
)

if TYPE_CHECKING:
    from mpesa_integration.daraja.simulator.server import SimulatorServer

logger = logging.getLogger(__name__)


class SimulatorHandler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    # ---- plumbing

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, exc: DarajaHTTPError) -> None:
        request_id = f"{random.randint(1000, 99999)}-{random.randint(1_000_000, 99_999_999)}-1"
        self._send(exc.status, {"requestId": request_id, "errorCode": exc.code, "errorMessage": exc.message})

    def _routes(self) -> dict[str, tuple[str, Callable[[bytes], tuple[int, dict]]]]:
        routes: dict[str, tuple[str, Callable[[bytes], tuple[int, dict]]]] = {
            "/oauth/v1/generate": ("GET", self._oauth),
            STK_PUSH_PATH: ("POST", self._stk_push),
            "/mpesa/stkpushquery/v1/query": ("POST", self._stk_query),
            "/mpesa/b2c/v3/paymentrequest": ("POST", self._b2c),
            "/mpesa/transactionstatus/v1/query": ("POST", self._transaction_status),
            "/mpesa/accountbalance/v1/query": ("POST", self._account_balance),
            "/mpesa/reversal/v1/request": ("POST", self._reversal),
        }
        for version in ("v1", "v2"):
            routes[f"/mpesa/c2b/{version}/registerurl"] = ("POST", self._c2b_register)
            routes[f"/mpesa/c2b/{version}/simulate"] = ("POST", self._c2b_simulate)
        if self.server.control_api:
            routes.update(
                {
                    "/simulator/v1/callbacks/replay": ("POST", self._control_replay),
                    "/simulator/v1/stk/hold": ("POST", self._control_hold),
                    "/simulator/v1/stk/unhold": ("POST", self._control_unhold),
                    "/simulator/v1/stk/release": ("POST", self._control_release),
                    "/simulator/v1/state": ("GET", self._control_state),
                }
            )
        return routes

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        with self.server.lock:
            self.server.request_log.append((method, path))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        routes = self._routes()
        try:
            if path not in routes:
                raise DarajaHTTPError(404, errors.RESOURCE_NOT_FOUND, "Resource not found")
            allowed, handler = routes[path]
            if method != allowed:
                raise DarajaHTTPError(405, errors.METHOD_NOT_ALLOWED, "Method Not Allowed")
            status, body = handler(raw)
        except DarajaHTTPError as exc:
            self._send_error(exc)
            return
        except Exception:  # a simulator bug must still answer like a gateway would
            logger.exception("simulator error")
            self._send_error(DarajaHTTPError(500, errors.INTERNAL_ERROR, "Internal Server Error"))
            return
        stall = self.server.take_stall(path)
        if stall:
            self.server.sleep(stall)
        self._send(status, body)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ---- auth

    def _oauth(self, raw: bytes) -> tuple[int, dict]:
        query = parse_qs(urlsplit(self.path).query)
        if query.get("grant_type") != ["client_credentials"]:
            raise DarajaHTTPError(400, errors.OAUTH_INVALID_GRANT_TYPE, "Invalid grant type passed")
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            raise DarajaHTTPError(400, errors.OAUTH_INVALID_AUTH_TYPE, "Invalid Authentication passed")
        try:
            key, _, secret = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise DarajaHTTPError(400, errors.OAUTH_INVALID_AUTH_TYPE, "Invalid Authentication passed") from None
        if not (
            secrets.compare_digest(key, self.server.consumer_key)
            and secrets.compare_digest(secret, self.server.consumer_secret)
        ):
            raise DarajaHTTPError(400, errors.OAUTH_INVALID_AUTH_TYPE, "Invalid Authentication passed")
        return 200, {"access_token": self.server.issue_token(), "expires_in": self.server.token_expires_in}

    def _json_body(self, raw: bytes) -> dict:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not self.server.token_valid(auth[7:].strip()):
            raise DarajaHTTPError(404, errors.INVALID_ACCESS_TOKEN, "Invalid Access Token")
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            raise bad_request("BusinessShortCode")  # Daraja's famous answer to a missing content type
        return self._parse_json(raw)

    @staticmethod
    def _parse_json(raw: bytes) -> dict:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise bad_request("JSON") from None
        if not isinstance(body, dict):
            raise bad_request("JSON")
        return body

    def _check_credentials(self, body: dict) -> None:
        shortcode = str(body.get("BusinessShortCode", ""))
        if not SHORTCODE_RE.match(shortcode):
            raise bad_request("BusinessShortCode")
        if shortcode != self.server.shortcode:
            raise DarajaHTTPError(500, errors.MERCHANT_ERROR, "Merchant does not exist")
        timestamp = body.get("Timestamp")
        try:
            when = datetime.strptime(str(timestamp), "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
        except ValueError:
            raise bad_request("Timestamp") from None
        if not isinstance(timestamp, str) or len(timestamp) != 14:
            raise bad_request("Timestamp")
        skew = abs(datetime.now(tz=NAIROBI) - when)
        if skew > timedelta(seconds=self.server.timestamp_tolerance):
            raise bad_request("Timestamp")
        expected = base64.b64encode(f"{shortcode}{self.server.passkey}{timestamp}".encode()).decode()
        if not secrets.compare_digest(str(body.get("Password", "")), expected):
            raise DarajaHTTPError(500, errors.MERCHANT_ERROR, "Wrong credentials")

    # ---- field checks shared by the initiator APIs

    @staticmethod
    def _url(body: dict, name: str) -> str:
        value = body.get(name)
        if not isinstance(value, str) or not URL_RE.match(value):
            raise bad_request(name)
        return value

    @staticmethod
    def _text(body: dict, name: str, min_length: int, max_length: int, *, aliases: tuple[str, ...] = ()) -> str:
        value = body.get(name)
        for alias in aliases:
            if value is None:
                value = body.get(alias)
        if value is None and min_length == 0:
            return ""
        if not isinstance(value, str) or len(value.strip()) < min_length or len(value) > max_length:
            raise bad_request(name)
        return value

    def _initiator_fields(self, body: dict, name_key: str) -> None:
        """Presence and type only: a wrong initiator or credential is reported in the Result (2001), not here."""
        for key in (name_key, "SecurityCredential"):
            value = body.get(key)
            if not isinstance(value, str) or not value.strip():
                raise bad_request(key)

    def _accepted(self, originator: str, conversation_id: str) -> tuple[int, dict]:
        return 200, {
            "ConversationID": conversation_id,
            "OriginatorConversationID": originator,
            "ResponseCode": "0",
            "ResponseDescription": ASYNC_ACCEPTED,
        }

    # ---- STK

    def _stk_push(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        self._check_credentials(body)
        if body.get("TransactionType") not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            raise bad_request("TransactionType")
        amount = whole_amount(body.get("Amount"))
        if amount is None or amount < 1:
            raise bad_request("Amount")
        for name in ("PartyA", "PhoneNumber"):
            if not MSISDN_RE.match(str(body.get(name, ""))):
                raise bad_request(name)
        if not SHORTCODE_RE.match(str(body.get("PartyB", ""))):
            raise bad_request("PartyB")
        callback_url = body.get("CallBackURL")
        if not isinstance(callback_url, str) or not re.match(r"^https?://[^\s/]+", callback_url):
            raise bad_request("CallBackURL")
        reference = body.get("AccountReference")
        if not isinstance(reference, str) or not reference or len(reference) > 12:
            raise bad_request("AccountReference")
        desc = body.get("TransactionDesc", "")
        if not isinstance(desc, str) or len(desc) > 13:
            raise bad_request("TransactionDesc")

        server = self.server
        phone = str(body["PhoneNumber"])
        result_code, result_desc = OUTCOMES.get(phone[-4:], SUCCESS)
        if result_code == 0 and amount > 250_000:
            result_code, result_desc = ABOVE_MAXIMUM
        now = time.monotonic()
        with server.lock:
            previous = server.recent_pushes.get((phone, amount))
            server.recent_pushes[(phone, amount)] = now
            held = phone in server.held_phones
        if server.duplicate_window and previous is not None and now - previous < server.duplicate_window:
            result_code, result_desc = RULE_LIMITED
        merchant_id, checkout_id = server.new_ids()
        txn = StkTransaction(merchant_id, checkout_id, amount, phone, callback_url, result_code, result_desc, held=held)
        with server.lock:
            server.transactions[checkout_id] = txn
        if not held:
            server.schedule_callback(txn)
        return 200, {
            "MerchantRequestID": merchant_id,
            "CheckoutRequestID": checkout_id,
            "ResponseCode": "0",
            "ResponseDescription": ACCEPTED,
            "CustomerMessage": ACCEPTED,
        }

    def _stk_query(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        self._check_credentials(body)
        with self.server.lock:
            txn = self.server.transactions.get(str(body.get("CheckoutRequestID", "")))
            completed = txn is not None and txn.completed
        if txn is None:
            raise bad_request("CheckoutRequestID")
        if not completed:
            raise DarajaHTTPError(500, errors.MERCHANT_ERROR, BEING_PROCESSED)
        return 200, {
            "ResponseCode": "0",
            "ResponseDescription": "The service request has been accepted successsfully",
            "MerchantRequestID": txn.merchant_request_id,
            "CheckoutRequestID": txn.checkout_request_id,
            "ResultCode": str(txn.result_code),  # a string here, a number in the callback
            "ResultDesc": txn.result_desc,
        }

    # ---- B2C

    def _b2c(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        originator = body.get("OriginatorConversationID")
        if not isinstance(originator, str) or not originator.strip() or len(originator) > 64:
            raise bad_request("OriginatorConversationID")
        self._initiator_fields(body, "InitiatorName")
        if body.get("CommandID") not in B2C_COMMAND_IDS:
            raise bad_request("CommandID")
        amount = whole_amount(body.get("Amount"))
        if amount is None or not 10 <= amount <= 250_000:
            raise bad_request("Amount")
        if not SHORTCODE_RE.match(str(body.get("PartyA", ""))):
            raise bad_request("PartyA")
        msisdn = str(body.get("PartyB", ""))
        if not MSISDN_RE.match(msisdn):
            raise bad_request("PartyB")
        self._text(body, "Remarks", 2, 100)
        self._text(body, "Occassion", 0, 100, aliases=("Occasion",))
        self._url(body, "ResultURL")
        self._url(body, "QueueTimeOutURL")
        server = self.server
        with server.lock:
            if originator in server.b2c_originators:
                raise DarajaHTTPError(500, errors.DUPLICATE_ORIGINATOR, "Duplicate OriginatorConversationID")
            server.b2c_originators.add(originator)
        conversation_id = server.new_conversation_id()
        server.add_job(server.process_b2c(body, originator, conversation_id, amount, msisdn))
        return self._accepted(originator, conversation_id)

    # ---- Transaction Status, Account Balance, Reversal

    def _transaction_status(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        self._initiator_fields(body, "Initiator")
        if body.get("CommandID") != "TransactionStatusQuery":
            raise bad_request("CommandID")
        if not body.get("TransactionID") and not body.get("OriginalConversationID"):
            raise bad_request("TransactionID")
        identifier_type = str(body.get("IdentifierType", ""))
        if identifier_type not in ("1", "2", "4"):
            raise bad_request("IdentifierType")
        party_a = str(body.get("PartyA", ""))
        if not (MSISDN_RE.match(party_a) if identifier_type == "1" else SHORTCODE_RE.match(party_a)):
            raise bad_request("PartyA")
        self._text(body, "Remarks", 1, 100)
        self._text(body, "Occasion", 0, 100, aliases=("Occassion",))
        self._url(body, "ResultURL")
        self._url(body, "QueueTimeOutURL")
        server = self.server
        originator, conversation_id = server.new_originator_id(), server.new_conversation_id()
        server.add_job(server.process_status(body, originator, conversation_id))
        return self._accepted(originator, conversation_id)

    def _account_balance(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        self._initiator_fields(body, "Initiator")
        if body.get("CommandID") != "AccountBalance":
            raise bad_request("CommandID")
        if not SHORTCODE_RE.match(str(body.get("PartyA", ""))):
            raise bad_request("PartyA")
        if str(body.get("IdentifierType", "")) != "4":
            raise bad_request("IdentifierType")
        self._text(body, "Remarks", 1, 100)
        self._url(body, "ResultURL")
        self._url(body, "QueueTimeOutURL")
        server = self.server
        originator, conversation_id = server.new_originator_id(), server.new_conversation_id()
        server.add_job(server.process_balance(body, originator, conversation_id))
        return self._accepted(originator, conversation_id)

    def _reversal(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        self._initiator_fields(body, "Initiator")
        if body.get("CommandID") != "TransactionReversal":
            raise bad_request("CommandID")
        transaction_id = body.get("TransactionID")
        if not isinstance(transaction_id, str) or not re.fullmatch(r"[A-Za-z0-9]{1,20}", transaction_id):
            raise bad_request("TransactionID")
        amount = whole_amount(body.get("Amount"))
        if amount is None or amount < 1:
            raise bad_request("Amount")
        if not SHORTCODE_RE.match(str(body.get("ReceiverParty", ""))):
            raise bad_request("ReceiverParty")
        if str(body.get("RecieverIdentifierType", body.get("ReceiverIdentifierType", ""))) not in ("11", "4"):
            raise bad_request("RecieverIdentifierType")
        self._text(body, "Remarks", 2, 100)
        self._text(body, "Occasion", 0, 100, aliases=("Occassion",))
        self._url(body, "ResultURL")
        self._url(body, "QueueTimeOutURL")
        server = self.server
        originator, conversation_id = server.new_originator_id(), server.new_conversation_id()
        server.add_job(server.process_reversal(body, originator, conversation_id))
        return self._accepted(originator, conversation_id)

    # ---- C2B

    def _c2b_shortcode(self, body: dict) -> str:
        shortcode = str(body.get("ShortCode", ""))
        if not SHORTCODE_RE.match(shortcode):
            raise bad_request("ShortCode")
        server = self.server
        if shortcode not in (server.c2b_shortcode, server.shortcode, server.b2c_shortcode):
            raise DarajaHTTPError(500, errors.MERCHANT_ERROR, "Merchant does not exist")
        return shortcode

    def _c2b_register(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        shortcode = self._c2b_shortcode(body)
        response_type = body.get("ResponseType")
        if response_type not in ("Completed", "Cancelled"):
            raise bad_request("ResponseType")
        urls = {"ResponseType": response_type}
        for name in ("ConfirmationURL", "ValidationURL"):
            url = self._url(body, name)
            if any(word in url.lower() for word in C2B_FORBIDDEN_URL_WORDS):
                raise bad_request(name)
            urls[name] = url
        with self.server.lock:
            self.server.c2b_urls[shortcode] = urls
        return 200, {
            "OriginatorCoversationID": self.server.new_originator_id(),  # sic, as Daraja spells it
            "ResponseCode": "0",
            "ResponseDescription": "success",
        }

    def _c2b_simulate(self, raw: bytes) -> tuple[int, dict]:
        body = self._json_body(raw)
        shortcode = self._c2b_shortcode(body)
        command_id = body.get("CommandID")
        if command_id not in C2B_COMMAND_IDS:
            raise bad_request("CommandID")
        amount = whole_amount(body.get("Amount"))
        if amount is None or not 1 <= amount <= 250_000:
            raise bad_request("Amount")
        msisdn = str(body.get("Msisdn", ""))
        if not MSISDN_RE.match(msisdn):
            raise bad_request("Msisdn")
        bill_ref = body.get("BillRefNumber") or ""
        if not isinstance(bill_ref, str) or len(bill_ref) > 20:
            raise bad_request("BillRefNumber")
        server = self.server
        with server.lock:
            registered = shortcode in server.c2b_urls
        if not registered:
            raise DarajaHTTPError(400, errors.BAD_REQUEST, "Bad Request - Invalid ShortCode (no C2B URLs registered)")
        originator = server.new_originator_id()
        job = C2BJob(
            originator_conversation_id=originator,
            shortcode=shortcode,
            command_id=command_id,
            amount=amount,
            msisdn=msisdn,
            bill_ref_number=bill_ref,
            trans_id=server.new_receipt(),
            trans_time=compact_time(datetime.now(tz=NAIROBI)),
        )
        with server.lock:
            server.c2b_jobs[originator] = job
        server.schedule(server.callback_delay, server.process_c2b, originator)
        return 200, {
            "OriginatorCoversationID": originator,  # sic
            "ResponseCode": "0",
            "ResponseDescription": ASYNC_ACCEPTED,
        }

    # ---- control API (not Daraja)

    def _control_body(self, raw: bytes) -> dict:
        return self._parse_json(raw)

    @staticmethod
    def _control_error(message: str, status: int = 400) -> DarajaHTTPError:
        code = errors.RESOURCE_NOT_FOUND if status == 404 else errors.BAD_REQUEST
        return DarajaHTTPError(status, code, message)

    def _control_replay(self, raw: bytes) -> tuple[int, dict]:
        body = self._control_body(raw)
        identifier = body.get("CheckoutRequestID") or body.get("OriginatorConversationID")
        times, delay = body.get("times", 1), body.get("delay", 0)
        if not isinstance(identifier, str) or not identifier:
            raise self._control_error("CheckoutRequestID or OriginatorConversationID is required")
        if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= 100:
            raise self._control_error("times must be an integer 1..100")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 3600:
            raise self._control_error("delay must be 0..3600 seconds")
        try:
            self.server.replay_callback(identifier, times, float(delay), background=True)
        except KeyError:
            raise self._control_error(f"Unknown id {identifier}", 404) from None
        return 200, {"ResponseCode": "0", "ResponseDescription": f"{times} callback(s) scheduled", "times": times}

    def _phone(self, raw: bytes) -> str:
        try:
            return normalize_phone(self._control_body(raw).get("phone", ""))
        except ValueError as exc:
            raise self._control_error(str(exc)) from None

    def _control_hold(self, raw: bytes) -> tuple[int, dict]:
        phone = self._phone(raw)
        self.server.hold_phone(phone)
        return 200, {"ResponseCode": "0", "ResponseDescription": f"Pushes to {phone} are held", "phone": phone}

    def _control_unhold(self, raw: bytes) -> tuple[int, dict]:
        phone = self._phone(raw)
        self.server.unhold_phone(phone)
        return 200, {"ResponseCode": "0", "ResponseDescription": f"Pushes to {phone} complete again", "phone": phone}

    def _control_release(self, raw: bytes) -> tuple[int, dict]:
        body = self._control_body(raw)
        checkout_id = body.get("CheckoutRequestID")
        send_callback = body.get("send_callback", True)
        if not isinstance(send_callback, bool):
            raise self._control_error("send_callback must be true or false")
        if not isinstance(checkout_id, str) or checkout_id not in self.server.transactions:
            raise self._control_error(f"Unknown CheckoutRequestID {checkout_id}", 404)
        server = self.server
        if send_callback:  # in the background: the callback receiver may be the very client calling us
            threading.Thread(target=server.release, args=(checkout_id, True), daemon=True).start()
        else:
            server.release(checkout_id, send_callback=False)
        return 200, {"ResponseCode": "0", "ResponseDescription": "released", "CheckoutRequestID": checkout_id}

    def _control_state(self, raw: bytes) -> tuple[int, dict]:
        return 200, self.server.state()
