"""
Reads for M-Pesa, always scoped (404 for everything else):
- transactions: officials see their groups' rows, members their own rows (staff also see unallocated payments);
- bulk payments and reconciliations: only the officials of the group (they list other members' phones and money).

`bulk_payment_list` prefetches everything the API shows (group, approvals with approvers, items with members), so
a page of batches costs a constant number of queries whatever the number of batches or items.
"""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from chamahub.api.fields import ID_MAX
from chamahub.exceptions import NotFound
from groups.selectors import official_group_ids, own_rows_q
from mpesa_integration.choices import Settlement
from mpesa_integration.models import (
    BulkPaymentApproval,
    MPesaBulkPayment,
    MPesaBulkPaymentItem,
    MPesaTransaction,
    PaymentReconciliation,
    PaymentReversal,
    ReconciliationException,
)


def _one(queryset: QuerySet, pk, what: str):
    """The row `pk` of a scoped queryset, or 404 — also for an id no database row can have (not 1..2^63-1)."""
    row = queryset.filter(pk=pk).first() if isinstance(pk, int) and 1 <= pk <= ID_MAX else None
    if row is None:
        raise NotFound(f"{what} not found.")
    return row


def transaction_list(*, user) -> QuerySet[MPesaTransaction]:
    """Rows the caller may read. Staff also see payments no group could be found for (to allocate them)."""
    visible = own_rows_q(user, owner_field="member_id")
    if getattr(user, "is_staff", False):
        visible |= Q(group__isnull=True, settlement=Settlement.UNALLOCATED)
    return MPesaTransaction.objects.filter(visible).select_related("group", "member")


def transaction_get(*, user, transaction_id: int) -> MPesaTransaction:
    return _one(transaction_list(user=user), transaction_id, "Transaction")


def bulk_payment_list(*, user) -> QuerySet[MPesaBulkPayment]:
    """Batches of the groups where `user` is an active official, with approvals and items prefetched."""
    return (
        MPesaBulkPayment.objects.filter(group_id__in=official_group_ids(user))
        .select_related("group")
        .prefetch_related(
            Prefetch("approvals", queryset=BulkPaymentApproval.objects.select_related("approver").order_by("id")),
            Prefetch("items", queryset=MPesaBulkPaymentItem.objects.select_related("member").order_by("id")),
        )
    )


def bulk_payment_get(*, user, bulk_payment_id: int) -> MPesaBulkPayment:
    """One batch as `bulk_payment_list` shows it, or 404."""
    return _one(bulk_payment_list(user=user), bulk_payment_id, "Bulk payment")


def reconciliation_list(*, user) -> QuerySet[PaymentReconciliation]:
    """Reconciliations of the groups where `user` is an active official (everyone else sees none)."""
    return PaymentReconciliation.objects.filter(group_id__in=official_group_ids(user)).select_related(
        "group", "uploaded_by"
    )


def reconciliation_get(*, user, reconciliation_id: int) -> PaymentReconciliation:
    """One reconciliation as `reconciliation_list` shows it, or 404."""
    return _one(reconciliation_list(user=user), reconciliation_id, "Reconciliation")


def reconciliation_exception_list(*, user) -> QuerySet[ReconciliationException]:
    """Exceptions of the groups where `user` is an active official, with the linked transaction joined."""
    return ReconciliationException.objects.filter(group_id__in=official_group_ids(user)).select_related("transaction")


def reconciliation_exception_get(*, user, exception_id: int) -> ReconciliationException:
    """One exception as `reconciliation_exception_list` shows it, or 404."""
    return _one(reconciliation_exception_list(user=user), exception_id, "Reconciliation exception")


def reversal_list(*, user) -> QuerySet[PaymentReversal]:
    """Reversals of the groups where `user` is an active official (staff also see group-less ones)."""
    visible = Q(group_id__in=official_group_ids(user))
    if getattr(user, "is_staff", False):
        visible |= Q(group__isnull=True)
    return PaymentReversal.objects.filter(visible).select_related("transaction", "requested_by")


def reversal_get(*, user, reversal_id: int) -> PaymentReversal:
    """One reversal as `reversal_list` shows it, or 404."""
    return _one(reversal_list(user=user), reversal_id, "Reversal")
