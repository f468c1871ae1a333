"""Cash-out guard shared by loan disbursement and expense payment."""

from __future__ import annotations

from decimal import Decimal

from finance.choices import AccountKind
from finance.exceptions import InsufficientFunds
from finance.models import LedgerAccount
from finance.selectors.ledger import normal_sign
from finance.services.ledger import ledger_account_get_or_create


def cash_require(*, group_id: int, amount: Decimal, field: str = "amount") -> Decimal:
    """
    Lock the group's CASH account row and check it holds at least `amount`; return the balance.
    Call inside the transaction that then posts the payment: the row lock (the same one
    journal_entry_post takes) makes two concurrent payments check the balance one after the other.
    """
    account = ledger_account_get_or_create(group_id=group_id, kind=AccountKind.CASH)
    balance = LedgerAccount.objects.select_for_update().get(pk=account.pk).balance * normal_sign(AccountKind.CASH)
    if balance < amount:
        raise InsufficientFunds(
            f"The group has KES {balance} in cash; KES {amount} is needed.",
            fields={field: [f"Only KES {balance} is available in the group's cash account."]},
        )
    return balance
