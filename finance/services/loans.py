"""
Loans: application, guarantees, approval shortcuts, disbursement, repayment, early settlement,
write-off and the overdue scan.

Life cycle: PENDING --(enough official signatures)--> APPROVED --(disburse)--> ACTIVE --(paid)--> REPAID.
Any rejection (an official's, or a guarantor declining) -> REJECTED. ACTIVE loans more than
LOAN_DEFAULT_DAYS past due -> DEFAULTED; ACTIVE/DEFAULTED -> WRITTEN_OFF by an official.

Ledger (cash basis): disbursement Dr LOANS_RECEIVABLE(borrower) / Cr CASH; a repayment Dr CASH /
Cr FEES_INCOME / Cr INTEREST_INCOME / Cr LOANS_RECEIVABLE(borrower); a write-off Dr BAD_DEBTS /
Cr LOANS_RECEIVABLE(borrower). Interest and fees become income only when paid.

Lock order: the loan row first, then its approval / guarantees / instalments, then ledger accounts.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from chamahub import events, extensions
from chamahub.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from chamahub.money import ZERO, money_require, to_money
from finance.choices import (
    AccountKind,
    ApprovalStatus,
    ApprovalType,
    EntryKind,
    GuarantorStatus,
    LoanStatus,
    PaymentMethod,
)
from finance.exceptions import InvalidState, LoanLimitExceeded, Overpayment, SelfApprovalForbidden
from finance.models import DisbursementApproval, Loan, LoanGuarantor, LoanInstallment, LoanRepayment
from finance.selectors.ledger import account_balance
from finance.selectors.loans import SettlementQuote, guarantor_free_savings, loan_settlement_quote
from finance.services.amortization import Schedule, schedule_build
from finance.services.approvals import approval_sign, disbursement_approval_open, loan_guarantees_release
from finance.services.cash import cash_require
from finance.services.ledger import credit, debit, journal_entry_post
from groups.models import ChamaGroup
from groups.selectors import active_member_user_ids, membership_require, official_require

logger = logging.getLogger(__name__)

REPAYABLE_STATUSES = (LoanStatus.ACTIVE, LoanStatus.DEFAULTED)


# --------------------------------------------------------------------------- calculator / application


def loan_calculate(
    *,
    amount: Decimal,
    duration_months: int,
    interest_rate: Decimal,
    interest_method: str,
    processing_fee: Decimal = ZERO,
    start_date: date | None = None,
) -> Schedule:
    """The schedule a loan on these terms would have if disbursed on `start_date` (today). Writes nothing."""
    try:
        return schedule_build(
            principal=to_money(amount),
            annual_rate=Decimal(interest_rate),
            months=duration_months,
            method=interest_method,
            start_date=start_date or timezone.localdate(),
            processing_fee=to_money(processing_fee),
        )
    except ValueError as exc:
        raise ValidationFailed(f"These loan terms are not valid: {exc}.") from exc


def loan_limit(*, group: ChamaGroup, member_id: int) -> tuple[Decimal, Decimal]:
    """(limit, savings): a member may borrow up to max_loan_multiple × their MEMBER_SAVINGS balance."""
    savings = account_balance(group_id=group.id, kind=AccountKind.MEMBER_SAVINGS, member_id=member_id)
    return to_money(max(savings, ZERO) * group.max_loan_multiple), savings


@transaction.atomic
def loan_apply(
    *,
    group_id: int,
    borrower,
    principal_amount: Decimal,
    duration_months: int,
    purpose: str,
    guarantors: list[dict] | None = None,
    interest_rate: Decimal | None = None,
) -> Loan:
    """
    A member applies for a loan on the group's terms (rate, method and processing fee come from the
    group's rules). Creates the PENDING loan, the guarantors' requests and the loan's approval.
    """
    membership_require(borrower, group_id, field="group")
    group = ChamaGroup.objects.get(pk=group_id)
    principal_amount = money_require(principal_amount, field="principal_amount")
    errors: dict[str, list[str]] = {}

    if interest_rate is not None and Decimal(interest_rate) != group.loan_interest_rate:
        errors["interest_rate"] = [
            f"The interest rate is set by the group's rules ({group.loan_interest_rate.normalize():f}% a year); "
            "leave it out or send that value."
        ]
    if not 1 <= duration_months <= 60:
        errors["duration_months"] = ["The term must be between 1 and 60 months."]

    pledges = _guarantor_pledges_validate(group=group, borrower=borrower, guarantors=guarantors or [], errors=errors)
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], fields=errors)

    limit, savings = loan_limit(group=group, member_id=borrower.pk)
    if principal_amount > limit:
        message = (
            f"The most you can borrow is KES {limit}: {group.max_loan_multiple.normalize():f} × your savings "
            f"of KES {savings}."
        )
        raise LoanLimitExceeded(message, fields={"principal_amount": [message]})

    schedule = loan_calculate(
        amount=principal_amount,
        duration_months=duration_months,
        interest_rate=group.loan_interest_rate,
        interest_method=group.loan_interest_method,
        processing_fee=group.loan_processing_fee,
    )
    loan = Loan(
        group=group,
        borrower=borrower,
        principal_amount=principal_amount,
        interest_rate=group.loan_interest_rate,
        interest_method=group.loan_interest_method,
        duration_months=duration_months,
        processing_fee=group.loan_processing_fee,
        purpose=purpose,
        status=LoanStatus.PENDING,
        total_interest=schedule.total_interest,
        total_amount=schedule.total_amount,
        monthly_payment=schedule.monthly_payment,
    )
    loan.full_clean()
    loan.save()
    for guarantor_id, amount in pledges:
        pledge = LoanGuarantor(group=group, loan=loan, guarantor_id=guarantor_id, amount=amount)
        pledge.full_clean()
        pledge.save()
    disbursement_approval_open(
        group=group,
        approval_type=ApprovalType.LOAN,
        amount=principal_amount,
        description=f"Loan of KES {principal_amount} to {borrower}: {purpose}"[:2000],
        requested_by=borrower,
        loan=loan,
    )
    events.publish(
        "loan.applied",
        {
            "loan_id": loan.id,
            "borrower_id": borrower.pk,
            "principal_amount": str(principal_amount),
            "guarantor_ids": [gid for gid, _ in pledges],
        },
        group_id=group.id,
    )
    return loan


def _guarantor_pledges_validate(
    *, group: ChamaGroup, borrower, guarantors: list[dict], errors: dict[str, list[str]]
) -> list[tuple[int, Decimal]]:
    members = set(active_member_user_ids(group_id=group.id))
    seen: set[int] = set()
    pledges = []
    for index, item in enumerate(guarantors):
        key = f"guarantors[{index}]"
        guarantor_id = int(item["guarantor"])
        amount = money_require(item["amount"], field=f"{key}.amount")
        if guarantor_id == borrower.pk:
            errors[f"{key}.guarantor"] = ["You cannot guarantee your own loan."]
        elif guarantor_id not in members:
            errors[f"{key}.guarantor"] = ["The guarantor must be an active member of this group."]
        elif guarantor_id in seen:
            errors[f"{key}.guarantor"] = ["This member is listed twice."]
        elif amount <= 0:
            errors[f"{key}.amount"] = ["The amount guaranteed must be greater than zero."]
        else:
            free = guarantor_free_savings(group_id=group.id, guarantor_id=guarantor_id)
            if amount > free:
                errors[f"{key}.amount"] = [
                    f"The guarantor's free savings are KES {max(free, ZERO)}; they cannot pledge KES {amount}."
                ]
        seen.add(guarantor_id)
        pledges.append((guarantor_id, amount))
    return pledges


# --------------------------------------------------------------------------- guarantors


@transaction.atomic
def loan_guarantor_respond(*, guarantee_id: int, user, accept: bool) -> LoanGuarantor:
    """
    The guarantor accepts or declines. Only while the loan is PENDING or APPROVED, once.
    Declining rejects the loan (its approval is rejected too and the other pledges are released).
    """
    found = LoanGuarantor.objects.filter(pk=guarantee_id).values("group_id", "loan_id", "guarantor_id").first()
    if found is None:
        raise NotFound("Guarantee not found.")
    membership_require(user, found["group_id"])
    if found["guarantor_id"] != user.pk:
        raise PermissionDenied("Only the guarantor can accept or decline this request.")
    loan = Loan.objects.select_for_update().get(pk=found["loan_id"])
    guarantee = LoanGuarantor.objects.select_for_update().get(pk=guarantee_id)
    if guarantee.status != GuarantorStatus.PENDING:
        raise InvalidState(f"You have already responded ({guarantee.status}).")
    if loan.status not in (LoanStatus.PENDING, LoanStatus.APPROVED):
        raise InvalidState(f"The loan is {loan.status}; it no longer needs your guarantee.")

    now = timezone.now()
    if accept:
        free = guarantor_free_savings(group_id=loan.group_id, guarantor_id=user.pk, exclude_guarantee_id=guarantee.pk)
        if guarantee.amount > free:
            message = f"Your free savings are KES {max(free, ZERO)}; you cannot pledge KES {guarantee.amount}."
            raise ValidationFailed(message, fields={"amount": [message]})
        guarantee.status = GuarantorStatus.ACCEPTED
    else:
        guarantee.status = GuarantorStatus.DECLINED
    guarantee.responded_at = now
    guarantee.save(update_fields=["status", "responded_at", "updated_at"])
    events.publish(
        "loan.guarantee_accepted" if accept else "loan.guarantee_declined",
        {"loan_id": loan.id, "guarantor_id": user.pk, "amount": str(guarantee.amount)},
        group_id=loan.group_id,
    )
    if not accept:
        loan.status, loan.rejected_at = LoanStatus.REJECTED, now
        loan.notes = (loan.notes + "\n" if loan.notes else "") + f"Rejected: guarantor {user} declined."
        loan.save(update_fields=["status", "rejected_at", "notes", "updated_at"])
        DisbursementApproval.objects.filter(loan=loan, status=ApprovalStatus.PENDING).update(
            status=ApprovalStatus.REJECTED, decided_at=now, updated_at=now
        )
        loan_guarantees_release(loan=loan)
        events.publish(
            "loan.rejected",
            {"loan_id": loan.id, "borrower_id": loan.borrower_id, "reason": "guarantor_declined"},
            group_id=loan.group_id,
        )
    return guarantee


# --------------------------------------------------------------------------- approval shortcuts


def loan_decide(*, loan_id: int, approver, approved: bool, comments: str = "") -> Loan:
    """POST loans/{id}/approve|reject/: sign the loan's approval (the same rules as approval-signatures)."""
    approval_id = DisbursementApproval.objects.filter(loan_id=loan_id).values_list("id", flat=True).first()
    if approval_id is None:
        raise InvalidState("This loan has no approval to sign.")
    approval_sign(approval_id=approval_id, approver=approver, approved=approved, comments=comments)
    return Loan.objects.get(pk=loan_id)


# --------------------------------------------------------------------------- disbursement


@transaction.atomic
def loan_disburse(
    *,
    loan_id: int,
    actor,
    disbursed_on: date | None = None,
    funded_from: str = AccountKind.CASH,
    reference: str | None = None,
) -> Loan:
    """
    An official pays out an APPROVED loan whose guarantors all accepted, from the group's cash.
    Generates the schedule from the disbursement date and posts Dr LOANS_RECEIVABLE / Cr CASH.

    An M-Pesa B2C payout calls this when its payout succeeded (actor=None, funded_from=MPESA_CLEARING, where the
    payout reserved the cash, reference=the B2C receipt). While a payout for the loan is in flight, paying it out by
    hand is refused (the "loan.payout_pending" provider says so), so a loan is never paid twice.
    """
    loan = Loan.objects.select_for_update().filter(pk=loan_id).first()
    if loan is None:
        raise NotFound("Loan not found.", fields={"loan": ["Loan not found."]})
    if actor is not None:
        official_require(actor, loan.group_id)
    if funded_from == AccountKind.CASH and extensions.call("loan.payout_pending", loan_id=loan.id, default=False):
        raise InvalidState(
            "An M-Pesa payout of this loan is in progress; it becomes active when the payout succeeds.",
            fields={"status": ["An M-Pesa payout of this loan is in progress."]},
            code="payout_pending",
        )
    if loan.status != LoanStatus.APPROVED:
        raise InvalidState(
            f"Only an APPROVED loan can be disbursed; this one is {loan.status}.",
            fields={"status": [f"The loan is {loan.status}; it must be APPROVED by the officials first."]},
        )
    waiting = LoanGuarantor.objects.filter(loan=loan).exclude(status=GuarantorStatus.ACCEPTED).count()
    if waiting:
        raise InvalidState(
            "Every guarantor must accept before the loan is disbursed.",
            fields={"guarantors": [f"{waiting} guarantor(s) have not accepted."]},
            code="guarantors_pending",
        )
    if funded_from == AccountKind.CASH:
        cash_require(group_id=loan.group_id, amount=loan.principal_amount, field="principal_amount")

    disbursed_on = disbursed_on or timezone.localdate()
    schedule = schedule_build(
        principal=loan.principal_amount,
        annual_rate=loan.interest_rate,
        months=loan.duration_months,
        method=loan.interest_method,
        start_date=disbursed_on,
        processing_fee=loan.processing_fee,
    )
    LoanInstallment.objects.bulk_create(
        [
            LoanInstallment(
                group_id=loan.group_id,
                loan=loan,
                number=line.number,
                due_date=line.due_date,
                principal_due=line.principal,
                interest_due=line.interest,
                fee_due=line.fee,
            )
            for line in schedule.lines
        ]
    )
    journal_entry_post(
        group_id=loan.group_id,
        kind=EntryKind.LOAN_DISBURSEMENT,
        description=f"Loan {loan.id} disbursed to {loan.borrower}",
        legs=[
            debit(AccountKind.LOANS_RECEIVABLE, loan.principal_amount, loan.borrower_id),
            credit(funded_from, loan.principal_amount),
        ],
        entry_date=disbursed_on,
        reference=reference or f"loan-disbursement:{loan.id}",
        member_id=loan.borrower_id,
        created_by_id=getattr(actor, "pk", None),
    )
    loan.status = LoanStatus.ACTIVE
    loan.disbursed_at = timezone.now()
    loan.disbursement_date = disbursed_on
    loan.due_date = schedule.due_date
    loan.total_interest = schedule.total_interest
    loan.total_amount = schedule.total_amount
    loan.monthly_payment = schedule.monthly_payment
    loan.save(
        update_fields=[
            "status",
            "disbursed_at",
            "disbursement_date",
            "due_date",
            "total_interest",
            "total_amount",
            "monthly_payment",
            "updated_at",
        ]
    )
    events.publish(
        "loan.disbursed",
        {
            "loan_id": loan.id,
            "borrower_id": loan.borrower_id,
            "principal_amount": str(loan.principal_amount),
            "due_date": loan.due_date.isoformat(),
        },
        group_id=loan.group_id,
    )
    return loan


# --------------------------------------------------------------------------- repayments


def _installments_locked(loan: Loan) -> list[LoanInstallment]:
    return list(LoanInstallment.objects.select_for_update().filter(loan=loan).order_by("number"))


def _allocate(installments: list[LoanInstallment], amount: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Fees -> interest -> principal within each instalment, oldest first. Mutates the instalments."""
    remaining = amount
    fee = interest = principal = ZERO
    for line in installments:
        if remaining <= 0:
            break
        take = min(line.fee_due - line.fee_paid, remaining)
        line.fee_paid += take
        fee += take
        remaining -= take
        take = min(line.interest_due - line.interest_waived - line.interest_paid, remaining)
        line.interest_paid += take
        interest += take
        remaining -= take
        take = min(line.principal_due - line.principal_paid, remaining)
        line.principal_paid += take
        principal += take
        remaining -= take
    return fee, interest, principal


def _paid_at_check(paid_at: datetime | None) -> datetime:
    now = timezone.now()
    if paid_at is None:
        return now
    if paid_at > now + timedelta(minutes=5):
        raise ValidationFailed(
            "A payment cannot be dated in the future.", fields={"paid_at": ["Must not be in the future."]}
        )
    return paid_at


def _repayment_post(
    *,
    loan: Loan,
    installments: list[LoanInstallment],
    amount: Decimal,
    payment_method: str,
    reference: str | None,
    paid_at: datetime,
    actor,
    notes: str = "",
) -> LoanRepayment:
    fee, interest, principal = _allocate(installments, amount)
    repayment = LoanRepayment(
        group_id=loan.group_id,
        loan=loan,
        member_id=loan.borrower_id,
        amount=amount,
        fee_portion=fee,
        interest_portion=interest,
        principal_portion=principal,
        payment_method=payment_method,
        reference_number=reference or None,
        paid_at=paid_at,
        notes=notes or "",
        recorded_by=actor,
    )
    repayment.full_clean(validate_constraints=False)  # the unique receipt constraint answers below
    try:
        with transaction.atomic():
            repayment.save()
    except IntegrityError as exc:
        raise Conflict(
            "This reference number has already been recorded.",
            fields={"reference_number": [f"Reference {reference!r} was already recorded."]},
            code="duplicate_reference",
        ) from exc
    LoanInstallment.objects.bulk_update(
        installments, ["fee_paid", "interest_paid", "principal_paid", "interest_waived"]
    )
    use_receipt = payment_method == PaymentMethod.MPESA and reference
    entry = journal_entry_post(
        group_id=loan.group_id,
        kind=EntryKind.LOAN_REPAYMENT,
        description=f"Loan {loan.id} repayment by {loan.borrower}",
        legs=[
            debit(AccountKind.CASH, amount),
            credit(AccountKind.FEES_INCOME, fee),
            credit(AccountKind.INTEREST_INCOME, interest),
            credit(AccountKind.LOANS_RECEIVABLE, principal, loan.borrower_id),
        ],
        entry_date=timezone.localdate(paid_at),
        reference=reference if use_receipt else f"loan-repayment:{repayment.id}",
        member_id=loan.borrower_id,
        created_by_id=actor.pk if actor is not None else None,
    )
    repayment.journal_entry = entry
    repayment.save(update_fields=["journal_entry", "updated_at"])

    events.publish(
        "loan.repayment_received",
        {
            "loan_id": loan.id,
            "repayment_id": repayment.id,
            "borrower_id": loan.borrower_id,
            "amount": str(amount),
            "fee": str(fee),
            "interest": str(interest),
            "principal": str(principal),
        },
        group_id=loan.group_id,
    )
    if all(line.outstanding == 0 for line in installments):
        loan.status = LoanStatus.REPAID
        loan.completed_at = timezone.now()
        loan.save(update_fields=["status", "completed_at", "updated_at"])
        loan_guarantees_release(loan=loan)
        events.publish("loan.repaid", {"loan_id": loan.id, "borrower_id": loan.borrower_id}, group_id=loan.group_id)
    return repayment


@transaction.atomic
def loan_repayment_record(
    *,
    loan_id: int,
    amount: Decimal,
    payment_method: str,
    reference: str | None = None,
    paid_at: datetime | None = None,
    actor=None,
    notes: str = "",
) -> LoanRepayment:
    """
    Record money received against a loan (an official's cash entry, or the M-Pesa callback with
    actor=None and the receipt as `reference`). Allocated fees -> interest -> principal over the
    instalments, oldest first; one journal entry. Refuses more than is owed (Overpayment, 400).
    """
    loan = Loan.objects.select_for_update().filter(pk=loan_id).first()
    if loan is None:
        raise NotFound("Loan not found.", fields={"loan": ["Loan not found."]})
    if actor is not None:
        official_require(actor, loan.group_id, field="loan")
    if loan.status not in REPAYABLE_STATUSES:
        raise InvalidState(
            f"Repayments are accepted only on ACTIVE or DEFAULTED loans; this one is {loan.status}.",
            fields={"loan": [f"The loan is {loan.status}."]},
        )
    amount = money_require(amount)
    paid_at = _paid_at_check(paid_at)
    installments = _installments_locked(loan)
    owed = sum((line.outstanding for line in installments), ZERO)
    if amount > owed:
        message = f"You are repaying more than is owed: the outstanding balance is KES {owed}."
        raise Overpayment(message, fields={"amount": [message]})
    return _repayment_post(
        loan=loan,
        installments=installments,
        amount=amount,
        payment_method=payment_method,
        reference=reference,
        paid_at=paid_at,
        actor=actor,
        notes=notes,
    )


# --------------------------------------------------------------------------- early repayment


def loan_settlement_quote_get(*, loan: Loan, as_of: date | None = None) -> SettlementQuote:
    return loan_settlement_quote(loan=loan, as_of=as_of or timezone.localdate())


@transaction.atomic
def loan_settle(
    *,
    loan_id: int,
    payment_method: str,
    actor,
    reference: str | None = None,
    paid_at: datetime | None = None,
) -> LoanRepayment:
    """Pay the settlement quote: waive the interest not yet due, then repay everything else -> REPAID."""
    loan = Loan.objects.select_for_update().get(pk=loan_id)
    official_require(actor, loan.group_id)
    if loan.status not in REPAYABLE_STATUSES:
        raise InvalidState(f"Only an ACTIVE or DEFAULTED loan can be settled; this one is {loan.status}.")
    paid_at = _paid_at_check(paid_at)
    installments = _installments_locked(loan)
    quote = loan_settlement_quote(loan=loan, as_of=timezone.localdate(paid_at), installments=installments)
    for line in installments:
        if line.due_date > quote.as_of:
            line.interest_waived += line.interest_due - line.interest_waived - line.interest_paid
    repayment = _repayment_post(
        loan=loan,
        installments=installments,
        amount=quote.amount,
        payment_method=payment_method,
        reference=reference,
        paid_at=paid_at,
        actor=actor,
        notes=f"Early settlement; interest waived KES {quote.interest_waived}.",
    )
    events.publish(
        "loan.settled",
        {"loan_id": loan.id, "amount": str(quote.amount), "interest_waived": str(quote.interest_waived)},
        group_id=loan.group_id,
    )
    return repayment


# --------------------------------------------------------------------------- write-off and overdue scan


@transaction.atomic
def loan_write_off(*, loan_id: int, actor, reason: str = "") -> Loan:
    """An official writes off an ACTIVE or DEFAULTED loan: Dr BAD_DEBTS / Cr LOANS_RECEIVABLE (principal left)."""
    loan = Loan.objects.select_for_update().get(pk=loan_id)
    official_require(actor, loan.group_id)
    if loan.borrower_id == actor.pk:
        raise SelfApprovalForbidden("You may not write off your own loan.")
    if loan.status not in REPAYABLE_STATUSES:
        raise InvalidState(f"Only an ACTIVE or DEFAULTED loan can be written off; this one is {loan.status}.")
    installments = _installments_locked(loan)
    principal_left = sum((line.principal_due - line.principal_paid for line in installments), ZERO)
    if principal_left > 0:
        journal_entry_post(
            group_id=loan.group_id,
            kind=EntryKind.LOAN_WRITE_OFF,
            description=f"Loan {loan.id} written off" + (f": {reason}" if reason else ""),
            legs=[
                debit(AccountKind.BAD_DEBTS, principal_left),
                credit(AccountKind.LOANS_RECEIVABLE, principal_left, loan.borrower_id),
            ],
            reference=f"loan-write-off:{loan.id}",
            member_id=loan.borrower_id,
            created_by_id=actor.pk,
        )
    loan.status = LoanStatus.WRITTEN_OFF
    loan.written_off_at = timezone.now()
    if reason:
        loan.notes = (loan.notes + "\n" if loan.notes else "") + f"Written off: {reason}"
    loan.save(update_fields=["status", "written_off_at", "notes", "updated_at"])
    loan_guarantees_release(loan=loan)
    events.publish(
        "loan.written_off",
        {"loan_id": loan.id, "borrower_id": loan.borrower_id, "principal_written_off": str(principal_left)},
        group_id=loan.group_id,
    )
    return loan


def _unpaid(queryset):
    return queryset.alias(
        owed=F("principal_due") + F("interest_due") + F("fee_due") - F("interest_waived"),
        paid=F("principal_paid") + F("interest_paid") + F("fee_paid"),
    ).filter(paid__lt=F("owed"))


def loans_overdue_scan(*, as_of: date | None = None) -> int:
    """
    Daily. For ACTIVE loans: publish loan.overdue once per instalment that is past due and unpaid
    (overdue_notified_at marks it), and mark DEFAULTED (loan.defaulted) a loan whose oldest unpaid
    instalment is more than settings.LOAN_DEFAULT_DAYS past due. One transaction per loan; safe to
    run twice. Returns the number of events published (overdue + defaulted).
    """
    as_of = as_of or timezone.localdate()
    published = 0
    overdue = _unpaid(
        LoanInstallment.objects.filter(
            loan__status=LoanStatus.ACTIVE, due_date__lt=as_of, overdue_notified_at__isnull=True
        )
    )
    for loan_id in sorted(set(overdue.values_list("loan_id", flat=True))):
        published += _loan_overdue_flag(loan_id=loan_id, as_of=as_of)
    default_before = as_of - timedelta(days=settings.LOAN_DEFAULT_DAYS)
    late = _unpaid(LoanInstallment.objects.filter(loan__status=LoanStatus.ACTIVE, due_date__lt=default_before))
    for loan_id in sorted(set(late.values_list("loan_id", flat=True))):
        published += _loan_default(loan_id=loan_id, as_of=as_of)
    return published


@transaction.atomic
def _loan_overdue_flag(*, loan_id: int, as_of: date) -> int:
    loan = Loan.objects.select_for_update().get(pk=loan_id)
    if loan.status != LoanStatus.ACTIVE:
        return 0
    now = timezone.now()
    count = 0
    lines = _unpaid(
        LoanInstallment.objects.filter(loan=loan, due_date__lt=as_of, overdue_notified_at__isnull=True)
    ).order_by("number")
    for line in lines:
        if not LoanInstallment.objects.filter(pk=line.pk, overdue_notified_at__isnull=True).update(
            overdue_notified_at=now
        ):
            continue
        events.publish(
            "loan.overdue",
            {
                "loan_id": loan.id,
                "borrower_id": loan.borrower_id,
                "installment_number": line.number,
                "due_date": line.due_date.isoformat(),
                "amount_overdue": str(line.outstanding),
                "days_past_due": (as_of - line.due_date).days,
            },
            group_id=loan.group_id,
        )
        count += 1
    return count


@transaction.atomic
def _loan_default(*, loan_id: int, as_of: date) -> int:
    loan = Loan.objects.select_for_update().get(pk=loan_id)
    if loan.status != LoanStatus.ACTIVE:
        return 0
    oldest = _unpaid(LoanInstallment.objects.filter(loan=loan)).order_by("due_date").first()
    days = (as_of - oldest.due_date).days if oldest else 0
    if days <= settings.LOAN_DEFAULT_DAYS:
        return 0
    loan.status = LoanStatus.DEFAULTED
    loan.defaulted_at = timezone.now()
    loan.save(update_fields=["status", "defaulted_at", "updated_at"])
    events.publish(
        "loan.defaulted",
        {"loan_id": loan.id, "borrower_id": loan.borrower_id, "days_past_due": days},
        group_id=loan.group_id,
    )
    logger.info("loan %s defaulted (%s days past due)", loan.id, days)
    return 1
