"""
Expenses: any active member requests one (PENDING, with an EXPENSE approval for the officials to sign);
once APPROVED an official pays it from the group's cash: Dr EXPENSES / Cr CASH.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from chamahub import events
from chamahub.money import money_require
from finance.choices import AccountKind, ApprovalType, EntryKind, ExpenseStatus
from finance.exceptions import InvalidState
from finance.models import Expense
from finance.services.approvals import disbursement_approval_open
from finance.services.cash import cash_require
from finance.services.ledger import credit, debit, journal_entry_post
from groups.models import ChamaGroup
from groups.selectors import membership_require, official_require


@transaction.atomic
def expense_create(
    *, group_id: int, requested_by, category: str, description: str, amount: Decimal, notes: str = ""
) -> Expense:
    membership_require(requested_by, group_id, field="group")
    amount = money_require(amount)
    group = ChamaGroup.objects.get(pk=group_id)
    expense = Expense(
        group=group,
        category=category,
        description=description,
        amount=amount,
        notes=notes or "",
        requested_by=requested_by,
        status=ExpenseStatus.PENDING,
    )
    expense.full_clean()
    expense.save()
    disbursement_approval_open(
        group=group,
        approval_type=ApprovalType.EXPENSE,
        amount=expense.amount,
        description=f"{expense.get_category_display()} expense: {description}"[:2000],
        requested_by=requested_by,
        expense=expense,
    )
    events.publish(
        "expense.requested",
        {"expense_id": expense.id, "amount": str(expense.amount), "requested_by": requested_by.pk},
        group_id=group.id,
    )
    return expense


@transaction.atomic
def expense_pay(*, expense_id: int, actor) -> Expense:
    """An official pays an APPROVED expense out of the group's cash (409 when there is not enough)."""
    expense = Expense.objects.select_for_update().get(pk=expense_id)
    official_require(actor, expense.group_id)
    if expense.status != ExpenseStatus.APPROVED:
        raise InvalidState(
            f"Only an APPROVED expense can be paid; this one is {expense.status}.",
            fields={"status": [f"The expense is {expense.status}; the officials must approve it first."]},
        )
    cash_require(group_id=expense.group_id, amount=expense.amount)
    entry = journal_entry_post(
        group_id=expense.group_id,
        kind=EntryKind.EXPENSE,
        description=f"Expense {expense.id}: {expense.description}",
        legs=[debit(AccountKind.EXPENSES, expense.amount), credit(AccountKind.CASH, expense.amount)],
        reference=f"expense:{expense.id}",
        created_by_id=actor.pk,
    )
    expense.status = ExpenseStatus.DISBURSED
    expense.disbursed_at = timezone.now()
    expense.disbursed_by = actor
    expense.journal_entry = entry
    expense.save(update_fields=["status", "disbursed_at", "disbursed_by", "journal_entry", "updated_at"])
    events.publish(
        "expense.paid",
        {"expense_id": expense.id, "amount": str(expense.amount), "paid_by": actor.pk},
        group_id=expense.group_id,
    )
    return expense
