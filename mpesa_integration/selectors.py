"""Reads for M-Pesa transactions, always scoped: officials see their groups' rows, members their own rows."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from chamahub.exceptions import NotFound
from groups.selectors import own_rows_q
from mpesa_integration.choices import Settlement
from mpesa_integration.models import MPesaTransaction


def transaction_list(*, user) -> QuerySet[MPesaTransaction]:
    """Rows the caller may read. Staff also see payments no group could be found for (to allocate them)."""
    visible = own_rows_q(user, owner_field="member_id")
    if getattr(user, "is_staff", False):
        visible |= Q(group__isnull=True, settlement=Settlement.UNALLOCATED)
    return MPesaTransaction.objects.filter(visible).select_related("group", "member")


def transaction_get(*, user, transaction_id: int) -> MPesaTransaction:
    txn = transaction_list(user=user).filter(pk=transaction_id).first()
    if txn is None:
        raise NotFound("Transaction not found.")
    return txn
