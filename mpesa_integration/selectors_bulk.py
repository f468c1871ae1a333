"""
Reads of B2C bulk payouts, scoped: a batch is visible to the officials of its group only. Plain members and
outsiders get 404 (a batch lists other members' payouts and phone numbers).

`bulk_payment_list` prefetches everything the API shows (group, approvals with approvers, items with members), so
a page of batches costs a constant number of queries whatever the number of batches or items.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from chamahub.exceptions import NotFound
from groups.selectors import official_group_ids
from mpesa_integration.models import BulkPaymentApproval, MPesaBulkPayment, MPesaBulkPaymentItem


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


def bulk_payment_get(*, user, bulk_payment_id) -> MPesaBulkPayment:
    """One batch as `bulk_payment_list` shows it, or 404."""
    try:
        pk = int(bulk_payment_id)
    except (TypeError, ValueError):
        raise NotFound("Bulk payment not found.") from None
    batch = bulk_payment_list(user=user).filter(pk=pk).first()
    if batch is None:
        raise NotFound("Bulk payment not found.")
    return batch
