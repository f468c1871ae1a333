"""
What mpesa_integration (L5) tells lower layers through `chamahub.extensions` providers (finance, L4, cannot import us).

- "loan.payout_pending": finance's `loan_disburse` refuses a cash disbursement while an M-Pesa payout of the loan is
  in flight, so a loan is never paid twice. Registered when this module is imported (AppConfig.ready).
"""

from __future__ import annotations

from django.db.models import Q

from chamahub import extensions
from mpesa_integration.choices import BulkItemStatus, Settlement, TransactionStatus
from mpesa_integration.models import MPesaBulkPaymentItem


@extensions.provides("loan.payout_pending")
def loan_payout_pending(*, loan_id: int) -> bool:
    """
    True while a live (not failed) bulk payout item exists for the loan and its payout has not succeeded and been
    posted. A payout M-Pesa confirmed but that could not be posted (e.g. the loan changed meanwhile) still counts:
    the money left, so paying the loan again by hand must wait for an official to resolve it.
    """
    settled = Q(transaction__status=TransactionStatus.SUCCEEDED, transaction__settlement=Settlement.POSTED)
    return (
        MPesaBulkPaymentItem.objects.filter(loan_id=loan_id)
        .exclude(status=BulkItemStatus.FAILED)
        .exclude(settled)
        .exists()
    )
