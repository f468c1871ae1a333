"""The records the simulator keeps: STK transactions, its ledger of receipts, async Results and C2B payments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class StkTransaction:
    merchant_request_id: str
    checkout_request_id: str
    amount: int
    phone: str
    callback_url: str
    result_code: int
    result_desc: str
    receipt: str = ""
    completed: bool = False  # set when the callback is sent: STK Query answers "being processed" until then
    held: bool = False  # pushed to a held phone: completes only through release()
    callback_body: dict = field(default_factory=dict)


@dataclass
class LedgerEntry:
    """A completed M-Pesa transaction the simulator issued a receipt for (Transaction Status, Reversal)."""

    receipt: str
    kind: str  # "stk" | "b2c" | "c2b"
    amount: int
    msisdn: str
    debit_party: str
    credit_party: str
    initiated_at: datetime
    finalised_at: datetime
    originator_conversation_id: str = ""
    conversation_id: str = ""
    reversed: bool = False


@dataclass
class AsyncJob:
    """The Result of one async request (B2C, Status, Balance, Reversal), computed at once, delivered later."""

    kind: str
    originator_conversation_id: str
    conversation_id: str
    url: str
    body: dict
    deliveries: int = 0


@dataclass
class C2BJob:
    originator_conversation_id: str
    shortcode: str
    command_id: str
    amount: int
    msisdn: str
    bill_ref_number: str
    trans_id: str
    trans_time: str
    status: str = "pending"  # -> "confirmed" | "rejected" | "cancelled"
    validation_reply: Any = None
    confirmation_url: str = ""
    confirmation_body: dict | None = None
