"""A Daraja-compatible simulator on the standard library's ThreadingHTTPServer.

It speaks the sandbox's paths, field rules and error bodies (shared/reference/daraja.md §1.2-1.11): OAuth (Basic
auth; a new token invalidates the previous one), STK Push/Query, B2C v3, C2B register/simulate (v1 and v2),
Transaction Status, Account Balance and Reversal. Bearer token and ``Content-Type: application/json`` are required
on every Daraja POST; bad fields get ``{"requestId", "errorCode", "errorMessage"}``. Callbacks and Results are
POSTed from background threads ``callback_delay`` seconds after the request.

STK outcome by the phone's last four digits (a repeat push of the same amount to the same phone within
``duplicate_window`` seconds gets ResultCode 17 "Rule limited." instead, as Daraja does)::

    ...1032 -> 1032 cancelled by user     ...1037 -> 1037 DS timeout, user unreachable
    ...2001 -> 2001 wrong PIN             ...0001 -> 1 insufficient balance
    anything else -> 0 success, with a receipt number and CallbackMetadata

B2C outcome by PartyB's last four digits (after the initiator check: a SecurityCredential that does not decrypt
to ``initiator_password`` gives Result 2001 "The initiator information is invalid.")::

    ...0001 -> 1 utility account balance low     ...2040 -> 2040 recipient not a registered customer
    ...2001 -> 2001 initiator information invalid
    ...1037 -> no Result: a QueueTimeOut body to the QueueTimeOutURL, ResultCode "SVC0403" (chosen by us: Daraja
              documents no code for it), and no transaction exists (Transaction Status finds nothing)
    anything else -> 0, with TransactionReceipt, amounts and balances; the utility balance is debited

Transaction Status on an unknown receipt/OriginatorConversationID: Result "R000001" "The transaction is not found"
(chosen by us). Reversal of an unknown, already reversed or B2C receipt: "R000002" "The OriginalTransactionID is
invalid". The utility balance starts at ``utility_balance``; B2C successes debit it, STK and C2B successes credit
it, reversals debit it.

Control API for tests and demos (not Daraja, no auth, only with ``control_api=True``)::

    POST /simulator/v1/callbacks/replay {"CheckoutRequestID" | "OriginatorConversationID", "times", "delay"}
    POST /simulator/v1/stk/hold {"phone"}          future pushes to that phone never complete by themselves
    POST /simulator/v1/stk/unhold {"phone"}
    POST /simulator/v1/stk/release {"CheckoutRequestID", "send_callback": true}
    GET  /simulator/v1/state                       balances and counters

In-process (tests)::

    with DarajaSimulator() as sim:
        client = DarajaClient(sim.base_url, sim.consumer_key, sim.consumer_secret, sim.shortcode, sim.passkey,
                              initiator_name=sim.initiator_name, initiator_password=sim.initiator_password,
                              certificate_path=sim.certificate_path, b2c_shortcode=sim.b2c_shortcode,
                              c2b_shortcode=sim.c2b_shortcode)

Standalone: ``python -m mpesa_integration.daraja.simulator --port 8089 [--credentials-dir var/daraja-simulator]``.

Layout: constants.py (sandbox defaults, reply texts, field patterns, paths), outcomes.py (the result-code tables and
how each async request or C2B payment is settled), state.py (the records kept), values.py (Daraja's error answer,
amount, phone and time rules), keys.py (the default key pair), server.py (SimulatorServer, DarajaSimulator),
handler.py (the HTTP handler and its per-API routes), cli.py (the standalone command line).
"""

from __future__ import annotations

from mpesa_integration.daraja.simulator.cli import add_arguments, build_server, main, serve, server_from_options
from mpesa_integration.daraja.simulator.constants import (
    ACCEPTED,
    ASYNC_ACCEPTED,
    B2C_COMMAND_IDS,
    BEING_PROCESSED,
    C2B_COMMAND_IDS,
    C2B_FORBIDDEN_URL_WORDS,
    CONTROL_PREFIX,
    CUSTOMER_FIRST_NAME,
    CUSTOMER_LAST_NAME,
    DEFAULT_B2C_SHORTCODE,
    DEFAULT_C2B_SHORTCODE,
    DEFAULT_CONSUMER_KEY,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_INITIATOR_NAME,
    DEFAULT_INITIATOR_PASSWORD,
    DEFAULT_UTILITY_BALANCE,
    DEFAULT_WORKING_BALANCE,
    MSISDN_RE,
    NAIROBI,
    ORGANISATION_NAME,
    SANDBOX_PASSKEY,
    SANDBOX_SHORTCODE,
    SHORTCODE_RE,
    STK_PUSH_PATH,
    URL_RE,
)
from mpesa_integration.daraja.simulator.handler import SimulatorHandler
from mpesa_integration.daraja.simulator.keys import default_key_pair, write_temp_certificate
from mpesa_integration.daraja.simulator.outcomes import (
    ABOVE_MAXIMUM,
    B2C_OUTCOMES,
    B2C_QUEUE_TIMEOUT_SUFFIX,
    INITIATOR_INVALID,
    NOT_PERMITTED,
    OUTCOMES,
    QUEUE_TIMEOUT,
    REVERSAL_INVALID,
    RULE_LIMITED,
    STATUS_NOT_FOUND,
    SUCCESS,
    OutcomesMixin,
)
from mpesa_integration.daraja.simulator.server import DarajaSimulator, SimulatorServer, post_json
from mpesa_integration.daraja.simulator.state import AsyncJob, C2BJob, LedgerEntry, StkTransaction
from mpesa_integration.daraja.simulator.values import (
    DarajaHTTPError,
    bad_request,
    compact_time,
    mask_msisdn,
    money,
    normalize_phone,
    whole_amount,
)

__all__ = [
    "ABOVE_MAXIMUM",
    "ACCEPTED",
    "ASYNC_ACCEPTED",
    "B2C_COMMAND_IDS",
    "B2C_OUTCOMES",
    "B2C_QUEUE_TIMEOUT_SUFFIX",
    "BEING_PROCESSED",
    "C2B_COMMAND_IDS",
    "C2B_FORBIDDEN_URL_WORDS",
    "CONTROL_PREFIX",
    "CUSTOMER_FIRST_NAME",
    "CUSTOMER_LAST_NAME",
    "DEFAULT_B2C_SHORTCODE",
    "DEFAULT_C2B_SHORTCODE",
    "DEFAULT_CONSUMER_KEY",
    "DEFAULT_CONSUMER_SECRET",
    "DEFAULT_INITIATOR_NAME",
    "DEFAULT_INITIATOR_PASSWORD",
    "DEFAULT_UTILITY_BALANCE",
    "DEFAULT_WORKING_BALANCE",
    "INITIATOR_INVALID",
    "MSISDN_RE",
    "NAIROBI",
    "NOT_PERMITTED",
    "ORGANISATION_NAME",
    "OUTCOMES",
    "QUEUE_TIMEOUT",
    "REVERSAL_INVALID",
    "RULE_LIMITED",
    "SANDBOX_PASSKEY",
    "SANDBOX_SHORTCODE",
    "SHORTCODE_RE",
    "STATUS_NOT_FOUND",
    "STK_PUSH_PATH",
    "SUCCESS",
    "URL_RE",
    "AsyncJob",
    "C2BJob",
    "DarajaHTTPError",
    "DarajaSimulator",
    "LedgerEntry",
    "OutcomesMixin",
    "SimulatorHandler",
    "SimulatorServer",
    "StkTransaction",
    "add_arguments",
    "bad_request",
    "build_server",
    "compact_time",
    "default_key_pair",
    "main",
    "mask_msisdn",
    "money",
    "normalize_phone",
    "post_json",
    "serve",
    "server_from_options",
    "whole_amount",
    "write_temp_certificate",
]
