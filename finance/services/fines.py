"""
Fines: manual fines charged by officials, automatic late-contribution fines, payments and waivers.

Ledger:
- charge:  Dr FINES_RECEIVABLE(member) / Cr FINES_INCOME            reference "fine:<id>"
- payment: Dr CASH                     / Cr FINES_RECEIVABLE(member) reference "fine:<id>:paid:<total paid>"
- waiver:  Dr FINES_INCOME             / Cr FINES_RECEIVABLE(member) reference "fine:<id>:waiver"
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import NotFound, ValidationFailed
from chamahub.money import money_require
from finance.choices import AccountKind, ContributionStatus, EntryKind, FineKind, FineStatus, PaymentMethod
from finance.exceptions import InvalidState, Overpayment
from finance.models import Contribution, Fine
from finance.selectors.ledger import cents
from finance.services.ledger import credit, debit, journal_entry_post
from finance.services.schedule import member_schedule_start, periods_covering
from groups.choices import MembershipStatus
from groups.models import ChamaGroup, Membership
from groups.selectors import active_membership_get, official_require


def _post_charge(fine: Fine, *, created_by_id: int | None) -> Fine:
    fine.journal_entry = journal_entry_post(
        group_id=fine.group_id,
        kind=EntryKind.FINE_CHARGE,
        description=f"Fine {fine.id}: {fine.reason}",
        legs=[
            debit(AccountKind.FINES_RECEIVABLE, fine.amount, fine.member_id),
            credit(AccountKind.FINES_INCOME, fine.amount),
        ],
        reference=f"fine:{fine.id}",
        member_id=fine.member_id,
        created_by_id=created_by_id,
    )
    fine.save(update_fields=["journal_entry", "updated_at"])
    events.publish(
        "fine.charged",
        {
            "fine_id": fine.id,
            "member_id": fine.member_id,
            "kind": fine.kind,
            "amount": str(fine.amount),
            "period": fine.period.isoformat() if fine.period else None,
        },
        group_id=fine.group_id,
    )
    return fine


@transaction.atomic
def fine_charge(*, actor, group_id: int, member_id: int, amount: Decimal, reason: str) -> Fine:
    """An official fines an active member of their group (rule breach, absence, ...)."""
    official_require(actor, group_id, field="group")
    amount = money_require(amount)
    if active_membership_get(group_id=group_id, user_id=member_id) is None:
        raise ValidationFailed(
            "Not an active member of this group.", fields={"member": ["Not an active member of this group."]}
        )
    if not (reason or "").strip():
        raise ValidationFailed("A reason is required.", fields={"reason": ["A reason is required."]})
    fine = Fine(
        group_id=group_id,
        member_id=member_id,
        kind=FineKind.MANUAL,
        amount=amount,
        reason=reason.strip(),
        charged_by=actor,
    )
    fine.full_clean(validate_constraints=False)
    fine.save()
    return _post_charge(fine, created_by_id=actor.pk)


def _locked(fine_id: int) -> Fine:
    fine = Fine.objects.select_for_update().filter(pk=fine_id).first()
    if fine is None:
        raise NotFound("Fine not found.")
    return fine


@transaction.atomic
def fine_pay(
    *,
    fine_id: int,
    actor,
    amount: Decimal,
    payment_method: str = PaymentMethod.CASH,
    reference: str | None = None,
) -> Fine:
    """
    An official records a payment toward a fine; PAID once fully paid. More than outstanding -> 400.
    The M-Pesa callback calls it with actor=None and the receipt as `reference` (the journal entry's key).
    """
    fine = _locked(fine_id)
    if actor is not None:
        official_require(actor, fine.group_id)
    amount = money_require(amount)
    if payment_method not in PaymentMethod.values:
        raise ValidationFailed("Unknown payment method.", fields={"payment_method": ["Unknown payment method."]})
    if fine.status != FineStatus.UNPAID:
        raise InvalidState(f"A {fine.status} fine cannot take payments.")
    outstanding = fine.amount - fine.amount_paid
    if amount > outstanding:
        raise Overpayment(
            f"Only {outstanding} is outstanding on this fine.",
            fields={"amount": [f"At most {outstanding} is outstanding."]},
        )
    fine.amount_paid += amount
    journal_entry_post(
        group_id=fine.group_id,
        kind=EntryKind.FINE_PAYMENT,
        description=f"Payment of fine {fine.id} ({payment_method})",
        legs=[debit(AccountKind.CASH, amount), credit(AccountKind.FINES_RECEIVABLE, amount, fine.member_id)],
        # amount_paid strictly increases, so the default reference is unique too
        reference=reference or f"fine:{fine.id}:paid:{fine.amount_paid}",
        member_id=fine.member_id,
        created_by_id=getattr(actor, "pk", None),
    )
    if fine.amount_paid == fine.amount:
        fine.status = FineStatus.PAID
    fine.save(update_fields=["amount_paid", "status", "updated_at"])
    events.publish(
        "fine.paid",
        {"fine_id": fine.id, "member_id": fine.member_id, "amount": str(amount), "status": fine.status},
        group_id=fine.group_id,
    )
    return fine


@transaction.atomic
def fine_waive(*, fine_id: int, actor, reason: str = "") -> Fine:
    """An official waives the unpaid remainder of a fine (Dr FINES_INCOME / Cr FINES_RECEIVABLE)."""
    fine = _locked(fine_id)
    official_require(actor, fine.group_id)
    if fine.status != FineStatus.UNPAID:
        raise InvalidState(f"A {fine.status} fine cannot be waived.")
    remainder = fine.amount - fine.amount_paid
    journal_entry_post(
        group_id=fine.group_id,
        kind=EntryKind.FINE_WAIVER,
        description=f"Waiver of fine {fine.id}" + (f": {reason}" if reason else ""),
        legs=[
            debit(AccountKind.FINES_INCOME, remainder),
            credit(AccountKind.FINES_RECEIVABLE, remainder, fine.member_id),
        ],
        reference=f"fine:{fine.id}:waiver",
        member_id=fine.member_id,
        created_by_id=actor.pk,
    )
    fine.status = FineStatus.WAIVED
    fine.save(update_fields=["status", "updated_at"])
    events.publish(
        "fine.waived",
        {"fine_id": fine.id, "member_id": fine.member_id, "amount": str(remainder)},
        group_id=fine.group_id,
    )
    return fine


def _late_fines_already(group_id: int) -> set[tuple[int, date]]:
    """Only to skip known work: correctness comes from the fine_one_late_fine_per_period constraint."""
    return set(
        Fine.objects.filter(group_id=group_id, kind=FineKind.LATE_CONTRIBUTION).values_list("member_id", "period")
    )


def _late_fines_charge_group(group: ChamaGroup, as_of: date) -> int:
    """Charge one group's late fines. One transaction per group (no transaction spans two groups)."""
    grace = timedelta(days=group.late_fine_grace_days)
    memberships = Membership.objects.filter(group_id=group.id, status=MembershipStatus.ACTIVE).only(
        "user_id", "joined_at"
    )
    paid: dict[tuple[int, date], Decimal] = defaultdict(Decimal)
    for row in (
        Contribution.objects.filter(group_id=group.id, status=ContributionStatus.CONFIRMED)
        .values("member_id", "period")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        paid[(row["member_id"], row["period"])] = cents(row["total"])
    already = _late_fines_already(group.id)
    charged = 0
    with transaction.atomic():
        for membership in memberships:
            joined_on = timezone.localdate(membership.joined_at) if membership.joined_at else None
            start = member_schedule_start(cycle_start=group.cycle_start_date, joined_on=joined_on)
            for period in periods_covering(
                anchor=group.cycle_start_date, frequency=group.contribution_frequency, start=start, end=as_of
            ):
                if period.due_date + grace >= as_of:
                    break
                key = (membership.user_id, period.start)
                if key in already or paid[key] >= group.contribution_amount:
                    continue
                try:
                    with transaction.atomic():
                        fine = Fine.objects.create(
                            group_id=group.id,
                            member_id=membership.user_id,
                            kind=FineKind.LATE_CONTRIBUTION,
                            amount=group.late_fine_amount,
                            reason=f"Late contribution for {period.start:%Y-%m-%d} to {period.end:%Y-%m-%d}",
                            period=period.start,
                        )
                        _post_charge(fine, created_by_id=None)
                except IntegrityError:
                    continue  # charged concurrently: the constraint keeps it to one fine
                charged += 1
    return charged


def late_fines_charge(as_of: date | None = None, group_id: int | None = None) -> int:
    """
    For each active group with late_fine_amount > 0, each ACTIVE member and each schedule period whose
    due_date + late_fine_grace_days < as_of and whose confirmed contributions are below the expected
    amount: charge one LATE_CONTRIBUTION fine of the group's late_fine_amount. Safe to run repeatedly.
    Returns the number of fines charged.
    """
    as_of = as_of or timezone.localdate()
    groups = ChamaGroup.objects.filter(is_active=True, late_fine_amount__gt=0, contribution_amount__gt=0)
    if group_id is not None:
        groups = groups.filter(pk=group_id)
    return sum(_late_fines_charge_group(group, as_of) for group in groups.order_by("id"))


def late_fines_charge_for_group(*, actor, group_id: int, as_of: date | None = None) -> int:
    """An official runs the late-fine rule for their group now."""
    official_require(actor, group_id, field="group")
    return late_fines_charge(as_of=as_of, group_id=group_id)
