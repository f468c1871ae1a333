"""
Contributions: record, confirm (posts Dr CASH / Cr the member's savings), fail, reverse, reconcile.

Status flow: PENDING -> CONFIRMED -> REVERSED, or PENDING -> FAILED.
- A plain member's own record stays PENDING until an official confirms it.
- An official recording CASH or BANK money confirms it at once (they are holding the money).
- MPESA records stay PENDING: the M-Pesa callback confirms them with `contribution_confirm`,
  which is idempotent (a duplicate callback returns the confirmed contribution unchanged).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from chamahub.money import money_require
from finance.choices import AccountKind, ContributionStatus, EntryKind, PaymentMethod
from finance.exceptions import InvalidState
from finance.models import Contribution
from finance.services.ledger import credit, debit, journal_entry_post, journal_entry_reverse
from finance.services.schedule import period_containing
from groups.selectors import active_membership_get, group_get, is_official, membership_require, official_require

# Methods where the recording official has the money in hand, so the record is confirmed at once.
_CONFIRM_ON_RECORD = frozenset({PaymentMethod.CASH, PaymentMethod.BANK})


def contribution_period_for(*, group, day: date) -> date:
    """First day of the group's schedule period that contains `day`."""
    return period_containing(anchor=group.cycle_start_date, frequency=group.contribution_frequency, day=day).start


@transaction.atomic
def contribution_record(
    *,
    actor,
    group_id: int,
    amount: Decimal,
    payment_method: str,
    reference_number: str | None = None,
    notes: str = "",
    period: date | None = None,
    paid_at: datetime | None = None,
    member_id: int | None = None,
) -> Contribution:
    """
    Record a contribution. Officials may record for any active member of their group; a plain member
    only for themselves (403 otherwise). Outsiders get 404 on `group`. Duplicate reference -> 409.
    """
    membership_require(actor, group_id, field="group")
    member_id = member_id or actor.pk
    actor_is_official = is_official(actor, group_id)
    if member_id != actor.pk:
        if not actor_is_official:
            raise PermissionDenied("Only officials may record a contribution for another member.")
        if active_membership_get(group_id=group_id, user_id=member_id) is None:
            raise ValidationFailed(
                "Not an active member of this group.", fields={"member": ["Not an active member of this group."]}
            )
    amount = money_require(amount)
    if payment_method not in PaymentMethod.values:
        raise ValidationFailed("Unknown payment method.", fields={"payment_method": ["Unknown payment method."]})
    now = timezone.now()
    paid_at = paid_at or now
    if paid_at > now:
        raise ValidationFailed("paid_at is in the future.", fields={"paid_at": ["Must not be in the future."]})
    group = group_get(group_id)
    day = period or timezone.localdate(paid_at)
    reference_number = (reference_number or "").strip() or None

    contribution = Contribution(
        group_id=group_id,
        member_id=member_id,
        amount=amount,
        period=contribution_period_for(group=group, day=day),
        payment_method=payment_method,
        status=ContributionStatus.PENDING,
        reference_number=reference_number,
        paid_at=paid_at,
        notes=notes or "",
        recorded_by=actor,
    )
    contribution.full_clean(validate_constraints=False)
    _save_unique_reference(contribution)
    events.publish(
        "contribution.recorded",
        {"contribution_id": contribution.id, "member_id": member_id, "amount": str(amount)},
        group_id=group_id,
    )
    if actor_is_official and payment_method in _CONFIRM_ON_RECORD:
        contribution = contribution_confirm(contribution_id=contribution.id, actor=actor)
    return contribution


def _save_unique_reference(contribution: Contribution) -> None:
    """Save; the unique constraint on reference_number (not a check-then-insert) turns a reused one into a 409."""
    message = "A contribution with this reference number already exists."
    try:
        with transaction.atomic():
            contribution.save()
    except IntegrityError as exc:
        raise Conflict(message, fields={"reference_number": [message]}, code="duplicate_reference") from exc


def _locked(contribution_id: int) -> Contribution:
    contribution = Contribution.objects.select_for_update().filter(pk=contribution_id).first()
    if contribution is None:
        raise NotFound("Contribution not found.")
    return contribution


def _authorize(actor, contribution: Contribution) -> None:
    if actor is not None:
        official_require(actor, contribution.group_id)


@transaction.atomic
def contribution_confirm(*, contribution_id: int, actor=None, reference: str | None = None) -> Contribution:
    """
    PENDING -> CONFIRMED, posting Dr CASH / Cr MEMBER_SAVINGS(member) (reference "contribution:<id>").
    Idempotent: an already CONFIRMED contribution is returned unchanged. `actor=None` is a system call
    (the M-Pesa callback); `reference` (e.g. the M-Pesa receipt) fills an empty reference_number.
    """
    contribution = _locked(contribution_id)
    _authorize(actor, contribution)
    if contribution.status == ContributionStatus.CONFIRMED:
        return contribution
    if contribution.status != ContributionStatus.PENDING:
        raise InvalidState(f"A {contribution.status} contribution cannot be confirmed.")
    if reference and not contribution.reference_number:
        contribution.reference_number = reference
    entry = journal_entry_post(
        group_id=contribution.group_id,
        kind=EntryKind.CONTRIBUTION,
        description=f"Contribution {contribution.id} for {contribution.period:%Y-%m-%d}",
        legs=[
            debit(AccountKind.CASH, contribution.amount),
            credit(AccountKind.MEMBER_SAVINGS, contribution.amount, contribution.member_id),
        ],
        entry_date=timezone.localdate(contribution.paid_at),
        # An M-Pesa confirmation is keyed by its receipt: the same receipt can never be posted twice in a group.
        reference=reference
        if reference and contribution.payment_method == PaymentMethod.MPESA
        else f"contribution:{contribution.id}",
        member_id=contribution.member_id,
        created_by_id=getattr(actor, "pk", None),
    )
    contribution.status = ContributionStatus.CONFIRMED
    contribution.confirmed_at = timezone.now()
    contribution.journal_entry = entry
    _save_unique_reference(contribution)
    events.publish(
        "contribution.confirmed",
        {
            "contribution_id": contribution.id,
            "member_id": contribution.member_id,
            "amount": str(contribution.amount),
            "period": contribution.period.isoformat(),
            "journal_entry_id": entry.id,
        },
        group_id=contribution.group_id,
    )
    return contribution


@transaction.atomic
def contribution_fail(*, contribution_id: int, actor=None, reason: str = "") -> Contribution:
    """PENDING -> FAILED (the money never arrived). Nothing was posted, so nothing is reversed."""
    contribution = _locked(contribution_id)
    _authorize(actor, contribution)
    if contribution.status != ContributionStatus.PENDING:
        raise InvalidState(f"A {contribution.status} contribution cannot be marked failed.")
    contribution.status = ContributionStatus.FAILED
    if reason:
        contribution.notes = f"{contribution.notes}\nFailed: {reason}".strip()
    contribution.save(update_fields=["status", "notes", "updated_at"])
    events.publish(
        "contribution.failed",
        {"contribution_id": contribution.id, "member_id": contribution.member_id},
        group_id=contribution.group_id,
    )
    return contribution


@transaction.atomic
def contribution_reverse(*, contribution_id: int, actor=None, reason: str = "") -> Contribution:
    """CONFIRMED -> REVERSED: posts the mirror of the confirmation entry."""
    contribution = _locked(contribution_id)
    _authorize(actor, contribution)
    if contribution.status != ContributionStatus.CONFIRMED or contribution.journal_entry_id is None:
        raise InvalidState(f"A {contribution.status} contribution cannot be reversed.")
    reversal = journal_entry_reverse(
        entry=contribution.journal_entry,
        description=f"Reversal of contribution {contribution.id}" + (f": {reason}" if reason else ""),
        created_by_id=getattr(actor, "pk", None),
    )
    contribution.status = ContributionStatus.REVERSED
    contribution.reversed_at = timezone.now()
    if reason:
        contribution.notes = f"{contribution.notes}\nReversed: {reason}".strip()
    contribution.save(update_fields=["status", "reversed_at", "notes", "updated_at"])
    events.publish(
        "contribution.reversed",
        {
            "contribution_id": contribution.id,
            "member_id": contribution.member_id,
            "amount": str(contribution.amount),
            "journal_entry_id": reversal.id,
        },
        group_id=contribution.group_id,
    )
    return contribution


@transaction.atomic
def contribution_reconcile(*, contribution_id: int, actor) -> Contribution:
    """
    The first web client's "reconcile": an official marks the contribution checked against the bank /
    M-Pesa statement (reconciled_by / reconciled_at). A PENDING one is confirmed first.
    Reconciling again keeps the first reconciliation.
    """
    contribution = _locked(contribution_id)
    _authorize(actor, contribution)
    if contribution.status == ContributionStatus.PENDING:
        contribution = contribution_confirm(contribution_id=contribution.id, actor=actor)
    if contribution.status != ContributionStatus.CONFIRMED:
        raise InvalidState(f"A {contribution.status} contribution cannot be reconciled.")
    if contribution.reconciled_at is None:
        contribution.reconciled_by = actor
        contribution.reconciled_at = timezone.now()
        contribution.save(update_fields=["reconciled_by", "reconciled_at", "updated_at"])
    return contribution
