"""
M-Pesa records. Every external identifier is unique when present (CheckoutRequestID, OriginatorConversationID,
ConversationID, MerchantRequestID, receipt): a second callback or a race between two workers cannot create a second
row or a second posting — the database refuses it, we do not check first.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from chamahub.models import TimeStampedModel
from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from mpesa_integration.choices import (
    BulkItemStatus,
    BulkPaymentStatus,
    CallbackKind,
    CallbackOutcome,
    ExceptionKind,
    ExceptionResolution,
    Purpose,
    ReconciliationStatus,
    ReversalStatus,
    Settlement,
    TransactionKind,
    TransactionStatus,
)

_money = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_DECIMAL_PLACES}


def _unique_when_present(field: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(
        fields=[field], condition=Q(**{f"{field}__isnull": False}), name=f"mpesa_txn_unique_{field}"
    )


class MPesaTransaction(TimeStampedModel):
    """One M-Pesa money movement we asked for (STK push, B2C payout) or were told about (C2B paybill payment)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=4, choices=TransactionKind.choices)
    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    initiated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    phone = models.CharField(max_length=20, help_text="MSISDN 2547XXXXXXXX (C2B numbers arrive masked).")
    amount = models.DecimalField(**_money)
    account_reference = models.CharField(max_length=20, blank=True)
    transaction_desc = models.CharField(max_length=100, blank=True)
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.OTHER)
    contribution = models.ForeignKey(
        "finance.Contribution", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    loan = models.ForeignKey("finance.Loan", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    fine = models.ForeignKey("finance.Fine", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    merchant_request_id = models.CharField(max_length=64, null=True, blank=True)
    checkout_request_id = models.CharField(max_length=64, null=True, blank=True)
    originator_conversation_id = models.CharField(max_length=64, null=True, blank=True)
    conversation_id = models.CharField(max_length=64, null=True, blank=True)
    receipt_number = models.CharField(max_length=20, null=True, blank=True)

    status = models.CharField(max_length=10, choices=TransactionStatus.choices, default=TransactionStatus.INITIATED)
    result_code = models.CharField(max_length=20, blank=True, help_text="Daraja's code, always as a string.")
    result_desc = models.CharField(max_length=255, blank=True)
    transaction_date = models.DateTimeField(null=True, blank=True, help_text="When M-Pesa completed it.")
    callback_received_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_queried_at = models.DateTimeField(null=True, blank=True)
    query_count = models.PositiveSmallIntegerField(default=0)

    settlement = models.CharField(max_length=12, choices=Settlement.choices, default=Settlement.NONE)
    settlement_note = models.CharField(max_length=255, blank=True)
    journal_entry = models.ForeignKey(
        "finance.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    request_body = models.JSONField(default=dict, blank=True, help_text="What we sent (secrets masked).")
    response_body = models.JSONField(default=dict, blank=True)
    callback_body = models.JSONField(default=dict, blank=True, help_text="The callback that settled it.")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "M-Pesa transaction"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="mpesa_txn_amount_positive"),
            _unique_when_present("merchant_request_id"),
            _unique_when_present("checkout_request_id"),
            _unique_when_present("originator_conversation_id"),
            _unique_when_present("conversation_id"),
            _unique_when_present("receipt_number"),
        ]
        indexes = [
            models.Index(fields=["group", "-created_at", "-id"], name="mpesa_txn_group_created"),
            models.Index(fields=["member", "-created_at"], name="mpesa_txn_member_created"),
            models.Index(fields=["status", "created_at"], name="mpesa_txn_status_created"),
            models.Index(fields=["phone", "amount", "created_at"], name="mpesa_txn_phone_amount"),
        ]

    def __str__(self) -> str:
        ref = self.receipt_number or self.checkout_request_id or self.originator_conversation_id or self.uuid
        return f"{self.kind} {self.amount} {self.status} ({ref})"


class CallbackLog(models.Model):
    """
    Append-only: every body Daraja POSTed to us, stored before it is processed, with its SHA-256. The body and hash
    are never changed; processing only records its outcome once.
    """

    kind = models.CharField(max_length=20, choices=CallbackKind.choices)
    body = models.JSONField(default=dict)
    raw_body = models.TextField(blank=True, help_text="The bytes received, when they were not valid JSON.")
    body_sha256 = models.CharField(max_length=64, db_index=True)
    correlation_id = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="CheckoutRequestID / OriginatorConversationID / TransID."
    )
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    transaction = models.ForeignKey(
        MPesaTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="callbacks"
    )
    outcome = models.CharField(max_length=10, choices=CallbackOutcome.choices, default=CallbackOutcome.RECEIVED)
    detail = models.CharField(max_length=255, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["outcome", "received_at"], name="mpesa_cb_outcome_received")]

    def __str__(self) -> str:
        return f"{self.kind} {self.correlation_id} {self.outcome}"


class MPesaBulkPayment(TimeStampedModel):
    """A batch of B2C payouts to members. Maker-checker: created by one official, approved by others."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    batch_id = models.CharField(max_length=40, unique=True)
    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    description = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=20, choices=BulkPaymentStatus.choices, default=BulkPaymentStatus.PENDING_APPROVAL
    )
    initiated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    required_approvals = models.PositiveSmallIntegerField()
    total_amount = models.DecimalField(**_money)
    total_recipients = models.PositiveIntegerField()
    successful_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    paid_amount = models.DecimalField(**_money, default=0)
    approved_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "M-Pesa bulk payment"
        constraints = [models.CheckConstraint(condition=Q(total_amount__gt=0), name="bulk_total_positive")]
        indexes = [models.Index(fields=["group", "-created_at", "-id"], name="bulk_group_created")]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.purpose} {self.total_amount} ({self.status})"


class BulkPaymentApproval(models.Model):
    """One official's decision on a batch. One per official (the unique constraint answers a second one)."""

    bulk_payment = models.ForeignKey(MPesaBulkPayment, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved = models.BooleanField()
    comments = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["bulk_payment", "approver"], name="bulk_approval_one_per_official")
        ]

    def __str__(self) -> str:
        return f"{'Approved' if self.approved else 'Rejected'} by {self.approver_id} ({self.bulk_payment_id})"


class MPesaBulkPaymentItem(TimeStampedModel):
    """One payout of a batch. Each attempt is its own B2C MPesaTransaction (a fresh OriginatorConversationID)."""

    bulk_payment = models.ForeignKey(MPesaBulkPayment, on_delete=models.CASCADE, related_name="items")
    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    phone = models.CharField(max_length=12)
    amount = models.DecimalField(**_money)
    loan = models.ForeignKey("finance.Loan", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=BulkItemStatus.choices, default=BulkItemStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    transaction = models.ForeignKey(MPesaTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    result_code = models.CharField(max_length=20, blank=True)
    result_desc = models.CharField(max_length=255, blank=True)
    receipt_number = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="bulk_item_amount_positive"),
            # A loan is paid out by at most one live item: a second batch for it is refused by the database.
            models.UniqueConstraint(
                fields=["loan"],
                condition=Q(loan__isnull=False) & ~Q(status="failed"),
                name="bulk_item_one_live_payout_per_loan",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bulk_payment_id}/{self.id} {self.phone} {self.amount} ({self.status})"


class PaymentReconciliation(TimeStampedModel):
    """One uploaded M-Pesa organisation statement, matched against the group's M-Pesa transactions."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    status = models.CharField(
        max_length=10, choices=ReconciliationStatus.choices, default=ReconciliationStatus.COMPLETED
    )
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    matched_amount = models.DecimalField(**_money, default=0)
    statement_total = models.DecimalField(**_money, default=0)
    missing_in_chamahub_count = models.PositiveIntegerField(default=0)
    missing_in_statement_count = models.PositiveIntegerField(default=0)
    amount_mismatch_count = models.PositiveIntegerField(default=0)
    open_exceptions = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["group", "-created_at", "-id"], name="recon_group_created")]
        constraints = [
            # the service refuses a re-upload under a lock first; the database makes it impossible
            models.UniqueConstraint(fields=["group", "file_sha256"], name="recon_unique_statement_per_group")
        ]

    def __str__(self) -> str:
        return f"Reconciliation {self.id} of group {self.group_id} ({self.file_name})"


class ReconciliationException(TimeStampedModel):
    """A statement row or a transaction that did not match; an official resolves it (post, link or review)."""

    reconciliation = models.ForeignKey(PaymentReconciliation, on_delete=models.CASCADE, related_name="exceptions")
    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=ExceptionKind.choices)
    receipt_number = models.CharField(max_length=20, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    statement_amount = models.DecimalField(**_money, null=True, blank=True)
    chamahub_amount = models.DecimalField(**_money, null=True, blank=True)
    direction = models.CharField(max_length=3, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    statement_line = models.PositiveIntegerField(null=True, blank=True)
    details = models.CharField(max_length=255, blank=True)
    transaction = models.ForeignKey(MPesaTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    resolution = models.CharField(max_length=10, choices=ExceptionResolution.choices, default=ExceptionResolution.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["reconciliation", "kind"], name="recon_exc_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.receipt_number or self.phone} ({self.resolution})"


class PaymentReversal(TimeStampedModel):
    """
    Returning a member's M-Pesa payment to them (Daraja Reversal), e.g. a contribution paid twice or money sent to the
    wrong paybill. Maker-checker: one official requests it, another approves; only then is Daraja called. At most one
    live reversal per payment (a partial unique constraint); a failed or rejected one may be requested again.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    transaction = models.ForeignKey(MPesaTransaction, on_delete=models.PROTECT, related_name="reversals")
    group = models.ForeignKey(
        "groups.ChamaGroup", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="Empty for money no group was found for (staff reverse it).",
    )  # fmt: skip
    amount = models.DecimalField(**_money)
    reason = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=ReversalStatus.choices, default=ReversalStatus.PENDING_APPROVAL)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comments = models.CharField(max_length=255, blank=True)
    originator_conversation_id = models.CharField(max_length=64, null=True, blank=True)
    conversation_id = models.CharField(max_length=64, null=True, blank=True)
    result_code = models.CharField(max_length=20, blank=True)
    result_desc = models.CharField(max_length=255, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    journal_entry = models.ForeignKey(
        "finance.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    request_body = models.JSONField(default=dict, blank=True)
    response_body = models.JSONField(default=dict, blank=True)
    result_body = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="reversal_amount_positive"),
            models.UniqueConstraint(
                fields=["transaction"],
                condition=Q(status__in=["pending_approval", "sent", "succeeded", "timed_out"]),
                name="reversal_one_live_per_payment",
            ),
            models.UniqueConstraint(
                fields=["originator_conversation_id"],
                condition=Q(originator_conversation_id__isnull=False),
                name="reversal_unique_originator",
            ),
        ]
        indexes = [models.Index(fields=["group", "-created_at", "-id"], name="reversal_group_created")]

    def __str__(self) -> str:
        return f"Reversal of {self.transaction_id} ({self.status})"
