"""M-Pesa choice values. Lower-case, as the issue's API contract names them; legacy upper-case values are mapped."""

from django.db import models


class TransactionKind(models.TextChoices):
    STK = "stk", "STK push (M-Pesa Express)"
    C2B = "c2b", "C2B paybill payment"
    B2C = "b2c", "B2C payout"


class TransactionStatus(models.TextChoices):
    """Forward only: initiated -> accepted -> succeeded | failed | cancelled | timed_out.

    timed_out is the one non-final end: a late definitive result (success or failure) may still replace it.
    """

    INITIATED = "initiated", "Initiated"
    ACCEPTED = "accepted", "Accepted by M-Pesa"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled by the customer"
    TIMED_OUT = "timed_out", "Timed out"


FINAL_STATUSES = frozenset({TransactionStatus.SUCCEEDED, TransactionStatus.FAILED, TransactionStatus.CANCELLED})
PENDING_STATUSES = frozenset({TransactionStatus.INITIATED, TransactionStatus.ACCEPTED})

# The first web client's status words (check_status, list filters) <-> ours.
LEGACY_STATUS = {
    TransactionStatus.INITIATED: "PENDING",
    TransactionStatus.ACCEPTED: "PENDING",
    TransactionStatus.SUCCEEDED: "SUCCESS",
    TransactionStatus.FAILED: "FAILED",
    TransactionStatus.CANCELLED: "CANCELLED",
    TransactionStatus.TIMED_OUT: "TIMEOUT",
}
LEGACY_STATUS_FILTER = {
    "PENDING": [TransactionStatus.INITIATED, TransactionStatus.ACCEPTED],
    "SUCCESS": [TransactionStatus.SUCCEEDED],
    "FAILED": [TransactionStatus.FAILED],
    "CANCELLED": [TransactionStatus.CANCELLED],
    "TIMEOUT": [TransactionStatus.TIMED_OUT],
}
LEGACY_KIND = {TransactionKind.STK: "STK_PUSH", TransactionKind.C2B: "C2B", TransactionKind.B2C: "B2C"}


class Purpose(models.TextChoices):
    CONTRIBUTION = "contribution", "Contribution"
    LOAN_REPAYMENT = "loan_repayment", "Loan repayment"
    FINE = "fine", "Fine payment"
    LOAN_DISBURSEMENT = "loan_disbursement", "Loan disbursement"
    SHARE_OUT = "share_out", "Share-out payout"
    MERRY_GO_ROUND = "merry_go_round", "Merry-go-round payout"
    REFUND = "refund", "Refund"
    OTHER = "other", "Other"


PAY_IN_PURPOSES = (Purpose.CONTRIBUTION, Purpose.LOAN_REPAYMENT, Purpose.FINE, Purpose.OTHER)
PAYOUT_PURPOSES = (Purpose.LOAN_DISBURSEMENT, Purpose.SHARE_OUT, Purpose.MERRY_GO_ROUND, Purpose.REFUND)


class Settlement(models.TextChoices):
    """What the money did in the ledger once M-Pesa confirmed it."""

    NONE = "none", "Not settled"
    POSTED = "posted", "Posted to its purpose"
    SUSPENSE = "suspense", "Held in suspense"
    ALLOCATED = "allocated", "Allocated from suspense"
    UNALLOCATED = "unallocated", "Received, no group identified"
    RESERVED = "reserved", "Payout reserved (cash in transit)"
    RELEASED = "released", "Payout reservation released"
    REVERSED = "reversed", "Returned to the payer (M-Pesa reversal)"


class CallbackKind(models.TextChoices):
    STK = "stk", "STK callback"
    B2C_RESULT = "b2c_result", "B2C result"
    B2C_TIMEOUT = "b2c_timeout", "B2C queue timeout"
    C2B_VALIDATION = "c2b_validation", "C2B validation"
    C2B_CONFIRMATION = "c2b_confirmation", "C2B confirmation"
    STATUS_RESULT = "status_result", "Transaction status result"
    REVERSAL_RESULT = "reversal_result", "Reversal result"
    REVERSAL_TIMEOUT = "reversal_timeout", "Reversal queue timeout"
    BALANCE_RESULT = "balance_result", "Account balance result"


class CallbackOutcome(models.TextChoices):
    RECEIVED = "received", "Received, not processed yet"
    PROCESSED = "processed", "Processed"
    DUPLICATE = "duplicate", "Duplicate (no effect)"
    IGNORED = "ignored", "Ignored (status could not move)"
    ORPHAN = "orphan", "No matching transaction"
    SUSPENSE = "suspense", "Sent to suspense"
    INVALID = "invalid", "Malformed body"
    FORBIDDEN = "forbidden", "Source IP not allowed"


class BulkPaymentStatus(models.TextChoices):
    PENDING_APPROVAL = "pending_approval", "Awaiting approval"
    APPROVED = "approved", "Approved, queued"
    REJECTED = "rejected", "Rejected"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    PARTIAL = "partial", "Partially paid"
    FAILED = "failed", "Failed"


class BulkItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent to M-Pesa"
    SUCCEEDED = "succeeded", "Paid"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out (being checked)"


class ReconciliationStatus(models.TextChoices):
    COMPLETED = "completed", "Completed (exceptions open)"
    RESOLVED = "resolved", "Every exception resolved"


class ExceptionKind(models.TextChoices):
    MISSING_IN_CHAMAHUB = "missing_in_chamahub", "In the statement, not in ChamaHub"
    MISSING_IN_STATEMENT = "missing_in_statement", "In ChamaHub, not in the statement"
    AMOUNT_MISMATCH = "amount_mismatch", "Amounts differ"


class ExceptionResolution(models.TextChoices):
    OPEN = "open", "Open"
    POSTED = "posted", "Posted to the ledger"
    LINKED = "linked", "Linked to a transaction"
    REVIEWED = "reviewed", "Reviewed, no action"


class ReversalStatus(models.TextChoices):
    """pending_approval -> rejected | sent -> succeeded | failed | timed_out (-> succeeded | failed)."""

    PENDING_APPROVAL = "pending_approval", "Awaiting a second official"
    REJECTED = "rejected", "Rejected"
    SENT = "sent", "Sent to M-Pesa"
    SUCCEEDED = "succeeded", "Reversed"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out (being checked)"


LIVE_REVERSAL_STATUSES = ("pending_approval", "sent", "succeeded", "timed_out")
