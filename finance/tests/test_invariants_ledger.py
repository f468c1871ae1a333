"""
Issue 2, section 11 — the hypothesis test required by name: random sequences of contributions,
reversals, fines, loans, repayments and share-outs keep every journal entry balanced, the trial balance
at zero, and every member statement equal to the ledger.

`LedgerMachine` drives the REAL services (never the ledger directly) on a fresh chama per example and
keeps a small pure-Python model of what the books must say: each member's savings (confirmed
contributions − reversals + share-out allocations), the cash book, fines owed, each loan's schedule
(allocated fees → interest → principal, oldest instalment first; early settlement waives interest not
yet due) and the income that a share-out pools. Every rule predicts whether the service must refuse;
a refusal must be the predicted DomainError and must write nothing (rows, balances, outbox events).

After every step the invariants check the ledger itself (entries balance, trial balance 0, running
balances = Σ postings, statements = ledger) and the ledger against the model.

`test_worked_example_full_cycle` is a hand-computed cycle (hordak style) for the same services.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from accounts.models import User
from accounts.tests.factories import UserFactory
from chamahub.exceptions import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from chamahub.models import OutboxEvent
from chamahub.money import CENT, ZERO, split_pro_rata, to_money
from finance.choices import (
    AccountKind,
    ContributionStatus,
    ExpenseCategory,
    ExpenseStatus,
    FineStatus,
    LoanStatus,
    PaymentMethod,
)
from finance.exceptions import (
    InsufficientFunds,
    InvalidState,
    LoanLimitExceeded,
    Overpayment,
    SelfApprovalForbidden,
)
from finance.models import (
    ApprovalSignature,
    Contribution,
    DisbursementApproval,
    Expense,
    Fine,
    JournalEntry,
    LedgerAccount,
    Loan,
    LoanInstallment,
    LoanRepayment,
    Posting,
    ShareOut,
    ShareOutAllocation,
)
from finance.selectors.books import statement_build
from finance.selectors.ledger import account_balance, normal_sign, trial_balance
from finance.services.approvals import approval_sign
from finance.services.contributions import contribution_confirm, contribution_record, contribution_reverse
from finance.services.expenses import expense_create, expense_pay
from finance.services.fines import fine_charge, fine_pay, fine_waive
from finance.services.loans import (
    loan_apply,
    loan_decide,
    loan_disburse,
    loan_repayment_record,
    loan_settle,
    loan_write_off,
)
from finance.services.shareout import share_out_post, share_out_preview
from groups.choices import Role
from groups.tests.factories import add_member, chair_of, make_group

pytestmark = pytest.mark.django_db

D = Decimal
HISTORY_DAYS = 180  # the simulated clock runs from today − HISTORY_DAYS up to today
MEMBER_KINDS = (AccountKind.MEMBER_SAVINGS, AccountKind.LOANS_RECEIVABLE, AccountKind.FINES_RECEIVABLE)
POOL_KINDS = (AccountKind.INTEREST_INCOME, AccountKind.FEES_INCOME, AccountKind.FINES_INCOME)

_examples = itertools.count()

cents = st.integers(min_value=1, max_value=50_000).map(lambda c: D(c).scaleb(-2))
bad_amounts = st.sampled_from([D("0"), D("0.00"), D("-5.00"), D("1.005")])
picks = st.integers(min_value=0, max_value=10**6)


def q(value) -> Decimal:
    """Quantize an aggregate to cents (SQLite may return Sum() of decimals as 2.8e-14 and the like)."""
    return D(str(value or 0)).quantize(CENT)


def noon(day: date) -> datetime:
    """A paid_at on `day` that is never in the future."""
    return min(timezone.make_aware(datetime.combine(day, time(12, 0))), timezone.now())


# --------------------------------------------------------------------------- the model


@dataclass
class MLine:
    """An instalment's unpaid parts as the model sees them."""

    due: date
    fee: Decimal
    interest: Decimal
    principal: Decimal

    @property
    def owed(self) -> Decimal:
        return self.fee + self.interest + self.principal


@dataclass
class MLoan:
    borrower: int
    principal: Decimal
    status: str = LoanStatus.PENDING
    signers: set[int] = field(default_factory=set)
    approvals: int = 0
    lines: list[MLine] = field(default_factory=list)

    @property
    def owed(self) -> Decimal:
        return sum((line.owed for line in self.lines), ZERO)

    @property
    def principal_left(self) -> Decimal:
        return sum((line.principal for line in self.lines), ZERO)

    def allocate(self, amount: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        """Fees → interest → principal within each instalment, oldest first."""
        fee = interest = principal = ZERO
        for line in self.lines:
            for part in ("fee", "interest", "principal"):
                take = min(getattr(line, part), amount)
                setattr(line, part, getattr(line, part) - take)
                amount -= take
                if part == "fee":
                    fee += take
                elif part == "interest":
                    interest += take
                else:
                    principal += take
        assert amount == 0
        return fee, interest, principal


@dataclass
class MFine:
    member: int
    amount: Decimal
    paid: Decimal = ZERO
    status: str = FineStatus.UNPAID


@dataclass
class MContribution:
    member: int
    amount: Decimal
    day: date
    status: str


# --------------------------------------------------------------------------- the machine


class LedgerMachine(RuleBasedStateMachine):
    # ----------------------------------------------------------------- set-up

    @initialize(
        method=st.sampled_from(["FLAT", "REDUCING"]),
        fee=st.sampled_from([D("0.00"), D("25.00")]),
        n_plain=st.integers(min_value=3, max_value=4),
        opening=st.lists(cents, min_size=6, max_size=6),
        first_loan=st.tuples(picks, st.integers(min_value=1, max_value=100), st.integers(min_value=1, max_value=12)),
        first_fine=st.tuples(picks, cents),
    )
    def chama(self, method, fee, n_plain, opening, first_loan, first_fine):
        n = next(_examples)
        self.today = timezone.localdate()
        self.clock = self.today - timedelta(days=HISTORY_DAYS)
        chair = UserFactory()  # factory sequences: unique phone numbers in every example
        group = make_group(
            chair=chair,
            name=f"Invariant chama {n}",
            cycle_start_date=self.clock - timedelta(days=30),
            required_approvals=2,
            loan_interest_rate=D("12"),
            loan_interest_method=method,
            loan_processing_fee=fee,
            max_loan_multiple=D("3"),
        )
        self.gid = group.id
        add_member(group, role=Role.TREASURER)
        for _ in range(n_plain):
            add_member(group)
        fresh = {u.pk: u for u in User.objects.filter(memberships__group_id=self.gid)}  # no stale caches
        self.chair = fresh[chair_of(group).pk]
        self.treasurer = next(u for u in fresh.values() if u.memberships.get(group_id=self.gid).role == Role.TREASURER)
        self.officials = [self.chair, self.treasurer]
        self.plain = sorted((u for u in fresh.values() if u not in self.officials), key=lambda u: u.pk)
        self.members = self.officials + self.plain
        self.outsider = UserFactory()  # belongs to no group

        # The model.
        self.savings = {m.pk: ZERO for m in self.members}
        self.savings_events: list[tuple[date, int, Decimal]] = []  # (entry date, member, amount)
        self.income_events: list[tuple[date, str, Decimal]] = []  # (entry date, kind, amount)
        self.income = {kind: ZERO for kind in POOL_KINDS}
        self.cash = ZERO
        self.expenses = ZERO
        self.bad_debts = ZERO
        self.contributions: dict[int, MContribution] = {}
        self.fines: dict[int, MFine] = {}
        self.loans: dict[int, MLoan] = {}
        self.windows: list[tuple[date, date]] = []

        # Members start with savings, through confirmed contributions.
        for member, amount in zip(self.members, opening[: len(self.members)], strict=True):
            self._contribution_record(actor=self.treasurer, member=member, amount=amount, method=PaymentMethod.CASH)
        # ... and one running loan (inside the limit), so repayments have something to work on from step one.
        who, percent, months = first_loan
        self.apply_loan(who=who, official=False, above=False, percent=percent, months=months, then="disburse")
        # ... and one fine, so there is income to share out.
        self.charge_fine(who=first_fine[0], by="official", amount=first_fine[1], bad=False, bad_amount=None)

    # ----------------------------------------------------------------- helpers

    def _fingerprint(self) -> tuple:
        gid = self.gid
        return (
            Posting.objects.filter(group_id=gid).count(),
            JournalEntry.objects.filter(group_id=gid).count(),
            tuple(LedgerAccount.objects.filter(group_id=gid).order_by("id").values_list("id", "balance")),
            tuple(Contribution.objects.filter(group_id=gid).order_by("id").values_list("id", "status")),
            tuple(Fine.objects.filter(group_id=gid).order_by("id").values_list("id", "status", "amount_paid")),
            tuple(Loan.objects.filter(group_id=gid).order_by("id").values_list("id", "status")),
            tuple(
                LoanInstallment.objects.filter(group_id=gid)
                .order_by("id")
                .values_list("id", "fee_paid", "interest_paid", "principal_paid", "interest_waived")
            ),
            LoanRepayment.objects.filter(group_id=gid).count(),
            tuple(Expense.objects.filter(group_id=gid).order_by("id").values_list("id", "status")),
            tuple(DisbursementApproval.objects.filter(group_id=gid).values_list("id", "status", "approvals_count")),
            ApprovalSignature.objects.filter(group_id=gid).count(),
            ShareOut.objects.filter(group_id=gid).count(),
            OutboxEvent.objects.filter(group_id=gid).count(),
        )

    def _attempt(self, call, expected: type[DomainError] | None):
        """Run one service call. A refusal must be the predicted one and must leave no trace."""
        event(f"{sys._getframe(1).f_code.co_name}: {expected.__name__ if expected else 'ok'}")
        before = self._fingerprint()
        try:
            result = call()
        except DomainError as exc:
            assert expected is not None, f"unexpected refusal: {type(exc).__name__}: {exc.message} {exc.fields}"
            assert isinstance(exc, expected), f"expected {expected.__name__}, got {type(exc).__name__}: {exc}"
            assert self._fingerprint() == before, "a refused call wrote something"
            return None
        assert expected is None, f"expected {expected.__name__}, but the call succeeded"
        return result

    def _no_trace(self, call):
        """An idempotent call: it succeeds and writes nothing."""
        before = self._fingerprint()
        result = call()
        assert self._fingerprint() == before, "an idempotent call wrote something"
        return result

    def _save(self, member_id: int, amount: Decimal, day: date) -> None:
        self.savings[member_id] += amount
        self.savings_events.append((day, member_id, amount))

    def _earn(self, kind: str, amount: Decimal, day: date) -> None:
        if amount:
            self.income[kind] += amount
            self.income_events.append((day, kind, amount))

    @staticmethod
    def _pick(keys, pick):
        keys = sorted(keys)
        return keys[pick % len(keys)] if keys else None

    def _running_loan(self, pick, any_loan: bool) -> int:
        """A loan to repay or close: an ACTIVE one (opening one first if none runs), or any loan at all."""
        if not any_loan and not any(loan.status == LoanStatus.ACTIVE for loan in self.loans.values()):
            self.apply_loan(
                who=pick, official=False, above=False, percent=1 + pick % 100, months=1 + pick % 12, then="disburse"
            )
        return self._loan_pick(pick, None if any_loan else LoanStatus.ACTIVE)

    def _loan_pick(self, pick, status: str | None) -> int:
        preferred = [k for k, loan in self.loans.items() if status is None or loan.status == status]
        return self._pick(preferred or self.loans, pick)

    def _is_official(self, user) -> bool:
        return user in self.officials

    def _contribution_record(self, *, actor, member, amount, method):
        if actor == self.outsider:
            expected = NotFound
        elif actor != member and not self._is_official(actor):
            expected = PermissionDenied
        elif amount <= 0 or to_money(amount) != amount:
            expected = ValidationFailed
        else:
            expected = None
        paid_at = noon(self.clock)
        contribution = self._attempt(
            lambda: contribution_record(
                actor=actor,
                group_id=self.gid,
                member_id=member.pk,
                amount=amount,
                payment_method=method,
                paid_at=paid_at,
            ),
            expected,
        )
        if contribution is None:
            return
        confirmed = self._is_official(actor) and method in (PaymentMethod.CASH, PaymentMethod.BANK)
        status = ContributionStatus.CONFIRMED if confirmed else ContributionStatus.PENDING
        assert contribution.status == status
        assert contribution.amount == amount and contribution.member_id == member.pk
        day = timezone.localdate(paid_at)
        self.contributions[contribution.id] = MContribution(member.pk, amount, day, status)
        if confirmed:
            self._save(member.pk, amount, day)
            self.cash += amount

    # ----------------------------------------------------------------- time

    @rule(days=st.integers(min_value=1, max_value=45))
    def advance_clock(self, days):
        self.clock = min(self.today, self.clock + timedelta(days=days))

    # ----------------------------------------------------------------- contributions

    @rule(
        who=picks,
        recorder=st.sampled_from(["self", "official", "official", "outsider"]),
        method=st.sampled_from([PaymentMethod.CASH, PaymentMethod.BANK, PaymentMethod.MPESA]),
        amount=cents,
        bad=st.sampled_from([False, False, False, False, True]),
        bad_amount=bad_amounts,
    )
    def contribute(self, who, recorder, method, amount, bad, bad_amount):
        amount = bad_amount if bad else amount
        member = self.members[who % len(self.members)]
        actor = {"self": member, "official": self.treasurer, "outsider": self.outsider}[recorder]
        self._contribution_record(actor=actor, member=member, amount=amount, method=method)

    @precondition(lambda self: self.contributions)
    @rule(pick=picks, by_official=st.sampled_from([True, True, True, False]), pending_first=st.booleans())
    def confirm(self, pick, by_official, pending_first):
        pending = [k for k, c in self.contributions.items() if c.status == ContributionStatus.PENDING]
        cid = self._pick(pending if pending_first and pending else self.contributions, pick)
        model = self.contributions[cid]
        actor = self.chair if by_official else self.plain[pick % len(self.plain)]
        if not by_official:
            self._attempt(lambda: contribution_confirm(contribution_id=cid, actor=actor), PermissionDenied)
        elif model.status == ContributionStatus.CONFIRMED:  # idempotent: returned unchanged, nothing posted
            result = self._no_trace(lambda: contribution_confirm(contribution_id=cid, actor=actor))
            assert result.status == ContributionStatus.CONFIRMED
        elif model.status == ContributionStatus.REVERSED:
            self._attempt(lambda: contribution_confirm(contribution_id=cid, actor=actor), InvalidState)
        else:
            result = self._attempt(lambda: contribution_confirm(contribution_id=cid, actor=actor), None)
            assert result.status == ContributionStatus.CONFIRMED
            model.status = ContributionStatus.CONFIRMED
            self._save(model.member, model.amount, model.day)  # dated when it was paid
            self.cash += model.amount

    @precondition(lambda self: self.contributions)
    @rule(pick=picks, by_official=st.sampled_from([True, True, True, False]))
    def reverse(self, pick, by_official):
        cid = self._pick(self.contributions, pick)
        model = self.contributions[cid]
        actor = self.treasurer if by_official else self.plain[pick % len(self.plain)]
        if not by_official:
            expected = PermissionDenied
        elif model.status != ContributionStatus.CONFIRMED:
            expected = InvalidState
        else:
            expected = None
        result = self._attempt(
            lambda: contribution_reverse(contribution_id=cid, actor=actor, reason="bounced"), expected
        )
        if result is not None:
            assert result.status == ContributionStatus.REVERSED
            model.status = ContributionStatus.REVERSED
            self._save(model.member, -model.amount, self.today)  # the reversal is dated today
            self.cash -= model.amount

    # ----------------------------------------------------------------- fines

    @rule(
        who=picks,
        by=st.sampled_from(["official", "official", "official", "member", "outsider"]),
        amount=cents,
        bad=st.sampled_from([False, False, False, False, True]),
        bad_amount=bad_amounts,
    )
    def charge_fine(self, who, by, amount, bad, bad_amount):
        amount = bad_amount if bad else amount
        member = self.members[who % len(self.members)]
        actor = {"official": self.officials[who % 2], "member": self.plain[0], "outsider": self.outsider}[by]
        if by == "outsider":
            expected = NotFound
        elif by == "member":
            expected = PermissionDenied
        elif amount <= 0 or to_money(amount) != amount:
            expected = ValidationFailed
        else:
            expected = None
        fine = self._attempt(
            lambda: fine_charge(actor=actor, group_id=self.gid, member_id=member.pk, amount=amount, reason="late"),
            expected,
        )
        if fine is not None:
            assert fine.status == FineStatus.UNPAID and fine.amount == amount
            self.fines[fine.id] = MFine(member.pk, amount)
            self._earn(AccountKind.FINES_INCOME, amount, self.today)

    @precondition(lambda self: self.fines)
    @rule(
        pick=picks,
        action=st.sampled_from(["pay", "pay", "waive"]),
        mode=st.sampled_from(["part", "part", "full", "over"]),
        extra=cents,
    )
    def settle_fine(self, pick, action, mode, extra):
        """Pay part, all or more than a fine's balance, or waive what is left."""
        if action == "pay":
            self._pay_fine(pick, mode, extra)
        else:
            self._waive_fine(pick)

    def _pay_fine(self, pick, mode, extra):
        unpaid = [k for k, f in self.fines.items() if f.status == FineStatus.UNPAID]
        fid = self._pick(unpaid or self.fines, pick)
        model = self.fines[fid]
        outstanding = model.amount - model.paid
        if mode == "full" and outstanding > 0:
            amount = outstanding
        elif mode == "part" and outstanding > 0:
            amount = min(extra, outstanding)
        else:
            amount = outstanding + extra
        if model.status != FineStatus.UNPAID:
            expected = InvalidState
        elif amount > outstanding:
            expected = Overpayment
        else:
            expected = None
        fine = self._attempt(lambda: fine_pay(fine_id=fid, actor=self.treasurer, amount=amount), expected)
        if fine is not None:
            model.paid += amount
            if model.paid == model.amount:
                model.status = FineStatus.PAID
            assert (fine.status, fine.amount_paid) == (model.status, model.paid)
            self.cash += amount

    def _waive_fine(self, pick):
        fid = self._pick(self.fines, pick)
        model = self.fines[fid]
        expected = None if model.status == FineStatus.UNPAID else InvalidState
        fine = self._attempt(lambda: fine_waive(fine_id=fid, actor=self.chair, reason="excused"), expected)
        if fine is not None:
            assert fine.status == FineStatus.WAIVED
            model.status = FineStatus.WAIVED
            self._earn(AccountKind.FINES_INCOME, -(model.amount - model.paid), self.today)

    # ----------------------------------------------------------------- loans

    @rule(
        who=picks,
        official=st.sampled_from([False, False, False, True]),
        above=st.sampled_from([False, False, True]),
        percent=st.integers(min_value=1, max_value=100),
        months=st.integers(min_value=1, max_value=12),
        then=st.sampled_from(["disburse", "disburse", "stay", "approve"]),
    )
    def apply_loan(self, who, official, above, percent, months, then):
        """Apply inside the limit (up to exactly 3 × savings) or above it; optionally approve and disburse."""
        borrower = (self.officials if official else self.plain)[who % (2 if official else len(self.plain))]
        limit = to_money(max(self.savings[borrower.pk], ZERO) * 3)
        if above or limit == 0:
            principal = limit + CENT * percent
        else:
            principal = max(CENT, to_money(limit * percent / 100))
        expected = LoanLimitExceeded if principal > limit else None
        loan = self._attempt(
            lambda: loan_apply(
                group_id=self.gid,
                borrower=borrower,
                principal_amount=principal,
                duration_months=months,
                purpose="stock",
            ),
            expected,
        )
        if loan is None:
            return
        assert loan.status == LoanStatus.PENDING and loan.principal_amount == principal
        self.loans[loan.id] = MLoan(borrower=borrower.pk, principal=principal)
        if then != "stay":
            for approver in self.officials:
                self._sign(loan.id, approver, approved=True)
        if then == "disburse":
            self._disburse(loan.id)

    def _sign(self, loan_id: int, approver, approved: bool) -> None:
        model = self.loans[loan_id]
        if not self._is_official(approver):
            expected = PermissionDenied
        elif approver.pk == model.borrower:
            expected = SelfApprovalForbidden
        elif model.status != LoanStatus.PENDING:
            expected = InvalidState
        elif approver.pk in model.signers:
            expected = Conflict  # already_signed
        else:
            expected = None
        loan = self._attempt(lambda: loan_decide(loan_id=loan_id, approver=approver, approved=approved), expected)
        if loan is None:
            return
        model.signers.add(approver.pk)
        if not approved:
            model.status = LoanStatus.REJECTED
        else:
            model.approvals += 1
            if model.approvals >= 2:
                model.status = LoanStatus.APPROVED
        assert loan.status == model.status

    def _disburse(self, loan_id: int) -> None:
        model = self.loans[loan_id]
        if model.status != LoanStatus.APPROVED:
            expected = InvalidState
        elif self.cash < model.principal:
            expected = InsufficientFunds
        else:
            expected = None
        loan = self._attempt(
            lambda: loan_disburse(loan_id=loan_id, actor=self.chair, disbursed_on=self.clock), expected
        )
        if loan is None:
            return
        assert loan.status == LoanStatus.ACTIVE
        lines = list(LoanInstallment.objects.filter(loan_id=loan_id).order_by("number"))
        assert sum(line.principal_due for line in lines) == model.principal
        assert sum(line.fee_due for line in lines) == loan.processing_fee
        assert sum(line.interest_due for line in lines) == loan.total_interest
        assert loan.total_amount == model.principal + loan.total_interest + loan.processing_fee
        assert all(line.due_date > self.clock for line in lines)
        model.lines = [MLine(line.due_date, line.fee_due, line.interest_due, line.principal_due) for line in lines]
        model.status = LoanStatus.ACTIVE
        self.cash -= model.principal

    @precondition(lambda self: self.loans)
    @rule(
        pick=picks,
        action=st.sampled_from(["approve_and_disburse", "sign_once", "disburse"]),
        signer=st.sampled_from(["chair", "treasurer", "member"]),
        approved=st.sampled_from([True, True, True, False]),
    )
    def decide_loan(self, pick, action, signer, approved):
        """Both officials approve and one disburses; or one signature (maybe a rejection or a refused signer);
        or a disbursement on its own."""
        if action == "approve_and_disburse":
            self._approve_and_disburse(pick)
        elif action == "sign_once":
            self._sign_once(pick, signer, approved)
        else:
            self._disburse_pick(pick)

    def _approve_and_disburse(self, pick):
        loan_id = self._loan_pick(pick, LoanStatus.PENDING)
        for official in self.officials:
            self._sign(loan_id, official, approved=True)
        self._disburse(loan_id)

    def _sign_once(self, pick, signer, approved):
        """One signature at a time, including rejections and refused signers."""
        loan_id = self._loan_pick(pick, LoanStatus.PENDING)
        approver = {"chair": self.chair, "treasurer": self.treasurer, "member": self.plain[pick % len(self.plain)]}
        self._sign(loan_id, approver[signer], approved)

    def _disburse_pick(self, pick):
        self._disburse(self._loan_pick(pick, LoanStatus.APPROVED))

    @precondition(lambda self: self.loans)
    @rule(
        pick=picks,
        mode=st.sampled_from(["part", "part", "part", "full", "over"]),
        extra=cents,
        any_loan=st.sampled_from([False, False, False, True]),
    )
    def repay(self, pick, mode, extra, any_loan):
        """Part of the balance, all of it, or more than is owed (refused, nothing written)."""
        loan_id = self._running_loan(pick, any_loan)
        model = self.loans[loan_id]
        owed = model.owed
        if mode == "full" and owed > 0:
            amount = owed
        elif mode == "part" and owed > 0:
            amount = min(extra, owed)
        else:
            amount = owed + extra
        if model.status != LoanStatus.ACTIVE:
            expected = InvalidState
        elif amount > owed:
            expected = Overpayment
        else:
            expected = None
        paid_at = noon(self.clock)
        repayment = self._attempt(
            lambda: loan_repayment_record(
                loan_id=loan_id,
                amount=amount,
                payment_method=PaymentMethod.CASH,
                paid_at=paid_at,
                actor=self.treasurer,
            ),
            expected,
        )
        if repayment is not None:
            self._repaid(model, repayment, model.allocate(amount), timezone.localdate(paid_at))

    def _repaid(self, model: MLoan, repayment, portions, day: date) -> None:
        fee, interest, principal = portions
        assert (repayment.fee_portion, repayment.interest_portion, repayment.principal_portion) == portions
        assert fee + interest + principal == repayment.amount
        self.cash += repayment.amount
        self._earn(AccountKind.FEES_INCOME, fee, day)
        self._earn(AccountKind.INTEREST_INCOME, interest, day)
        if model.owed == 0:
            model.status = LoanStatus.REPAID

    @precondition(lambda self: self.loans)
    @rule(
        pick=picks,
        action=st.sampled_from(["settle", "settle", "write_off"]),
        by=st.sampled_from([0, 1]),
        any_loan=st.sampled_from([False, False, False, True]),
    )
    def close_loan(self, pick, action, by, any_loan):
        """Early settlement (interest not yet due is waived) or a write-off."""
        loan_id = self._running_loan(pick, any_loan)
        if action == "settle":
            self._settle_early(loan_id)
        else:
            self._write_off(loan_id, by)

    def _settle_early(self, loan_id):
        model = self.loans[loan_id]
        expected = None if model.status == LoanStatus.ACTIVE else InvalidState
        paid_at = noon(self.clock)
        repayment = self._attempt(
            lambda: loan_settle(
                loan_id=loan_id, payment_method=PaymentMethod.CASH, actor=self.treasurer, paid_at=paid_at
            ),
            expected,
        )
        if repayment is None:
            return
        as_of = timezone.localdate(paid_at)
        for line in model.lines:
            if line.due > as_of:
                line.interest = ZERO  # interest not yet due is waived
        quote = model.owed
        assert repayment.amount == quote
        self._repaid(model, repayment, model.allocate(quote), as_of)
        assert model.status == LoanStatus.REPAID

    def _write_off(self, loan_id, by):
        model = self.loans[loan_id]
        actor = self.officials[by]
        if actor.pk == model.borrower:
            expected = SelfApprovalForbidden
        elif model.status != LoanStatus.ACTIVE:
            expected = InvalidState
        else:
            expected = None
        loan = self._attempt(lambda: loan_write_off(loan_id=loan_id, actor=actor, reason="absconded"), expected)
        if loan is not None:
            assert loan.status == LoanStatus.WRITTEN_OFF
            self.bad_debts += model.principal_left
            model.status = LoanStatus.WRITTEN_OFF
            model.lines = []  # nothing more is owed to the books

    # ----------------------------------------------------------------- expenses

    @rule(
        who=picks, amount=st.one_of(cents, st.integers(min_value=1, max_value=500_000).map(lambda c: D(c).scaleb(-2)))
    )
    def pay_expense(self, who, amount):
        requester = self.plain[who % len(self.plain)]
        expense = expense_create(
            group_id=self.gid,
            requested_by=requester,
            category=ExpenseCategory.OPERATIONAL,
            description="hall hire",
            amount=amount,
        )
        approval_id = DisbursementApproval.objects.get(expense=expense).id
        for official in self.officials:
            approval_sign(approval_id=approval_id, approver=official, approved=True)
        expected = InsufficientFunds if self.cash < amount else None
        paid = self._attempt(lambda: expense_pay(expense_id=expense.id, actor=self.chair), expected)
        if paid is not None:
            assert paid.status == ExpenseStatus.DISBURSED
            self.cash -= amount
            self.expenses += amount

    # ----------------------------------------------------------------- share-out

    def _plan(self, start: date, end: date) -> tuple[dict[str, Decimal], Decimal, dict[int, Decimal]]:
        """The model's pool and allocations for a cycle (weights: savings × days held)."""
        pool_by_kind = {kind: ZERO for kind in POOL_KINDS}
        for day, kind, amount in self.income_events:
            if start <= day <= end:
                pool_by_kind[kind] += amount
        pool = sum(pool_by_kind.values(), ZERO)
        weights: dict[int, Decimal] = {}
        for day, member_id, amount in self.savings_events:
            if day <= end:
                weights[member_id] = weights.get(member_id, ZERO) + amount * ((end - max(day, start)).days + 1)
        positive = {m: w for m, w in sorted(weights.items()) if w > 0}
        allocations = split_pro_rata(pool, positive, order=list(positive)) if pool > 0 and positive else {}
        return pool_by_kind, pool, {m: allocations.get(m, ZERO) for m in positive}

    @rule(
        offset=st.integers(min_value=0, max_value=HISTORY_DAYS),
        length=st.integers(min_value=0, max_value=150),
        end_at=st.sampled_from(["today", "clock", "clock", "any"]),
    )
    def share_out(self, offset, length, end_at):
        """A cycle ending today, at the simulated clock, or anywhere (perhaps in the future)."""
        start = self.today - timedelta(days=HISTORY_DAYS) + timedelta(days=offset)
        end = {"today": self.today, "clock": self.clock, "any": start + timedelta(days=length)}[end_at]
        start = min(start, end)
        pool_by_kind, pool, allocations = self._plan(start, end)
        if end > self.today:
            expected = ValidationFailed
        elif any(s <= end and e >= start for s, e in self.windows):
            expected = Conflict  # share_out_overlap
        elif pool <= 0 or not allocations:
            expected = Conflict  # empty_pool / no_savings
        else:
            expected = None
        if expected is None:
            preview = share_out_preview(group_id=self.gid, cycle_start=start, cycle_end=end)
            assert preview.pool == pool
            assert dict(preview.pool_by_kind) == pool_by_kind
            assert {a.member_id: a.amount for a in preview.allocations} == allocations
        posted = self._attempt(
            lambda: share_out_post(actor=self.chair, group_id=self.gid, cycle_start=start, cycle_end=end), expected
        )
        if posted is None:
            return
        assert posted.total_distributed == pool
        rows = dict(ShareOutAllocation.objects.filter(share_out=posted).values_list("member_id", "amount"))
        assert rows == allocations and sum(rows.values(), ZERO) == pool
        self.windows.append((start, end))
        for kind, amount in pool_by_kind.items():
            self.income[kind] -= amount  # not an income event: the pool excludes share-out entries
        for member_id, amount in allocations.items():
            if amount > 0:
                self._save(member_id, amount, end)

    # ----------------------------------------------------------------- invariants

    @invariant()
    def every_entry_balances_and_the_trial_balance_is_zero(self):
        per_entry = (
            Posting.objects.filter(group_id=self.gid)
            .values("entry_id")
            .annotate(total=Sum("amount"), legs=Count("id"))
            .order_by()
        )
        entries = set(JournalEntry.objects.filter(group_id=self.gid).values_list("id", flat=True))
        seen = set()
        for row in per_entry:
            assert q(row["total"]) == ZERO, f"entry {row['entry_id']} does not balance: {row['total']}"
            assert row["legs"] >= 2
            seen.add(row["entry_id"])
        assert seen == entries, "an entry without postings"
        assert q(trial_balance(group_id=self.gid)) == ZERO

    @invariant()
    def running_balances_equal_the_postings(self):
        sums = dict(
            Posting.objects.filter(group_id=self.gid)
            .values("account_id")
            .annotate(total=Sum("amount"))
            .order_by()
            .values_list("account_id", "total")
        )
        last_after = {}
        for account_id, balance_after in (
            Posting.objects.filter(group_id=self.gid).order_by("id").values_list("account_id", "balance_after")
        ):
            last_after[account_id] = balance_after
        for account_id, balance in LedgerAccount.objects.filter(group_id=self.gid).values_list("id", "balance"):
            assert balance == q(sums.get(account_id)), f"account {account_id}: {balance} != Σ {sums.get(account_id)}"
            assert balance == last_after.get(account_id, ZERO)

    def _balances(self) -> dict[tuple[str, int | None], Decimal]:
        return {
            (kind, member_id): balance * normal_sign(kind) + ZERO
            for kind, member_id, balance in LedgerAccount.objects.filter(group_id=self.gid).values_list(
                "kind", "member_id", "balance"
            )
        }

    @invariant()
    def ledger_equals_the_model(self):
        books = self._balances()
        for member in self.members:
            saved = books.get((AccountKind.MEMBER_SAVINGS, member.pk), ZERO)
            assert saved >= 0, f"member {member.pk} has negative savings {saved}"
            assert saved == self.savings[member.pk], (
                f"member {member.pk}: ledger {saved}, model {self.savings[member.pk]}"
            )
        assert books.get((AccountKind.CASH, None), ZERO) == self.cash
        assert books.get((AccountKind.EXPENSES, None), ZERO) == self.expenses
        assert books.get((AccountKind.BAD_DEBTS, None), ZERO) == self.bad_debts
        for kind in POOL_KINDS:
            assert books.get((kind, None), ZERO) == self.income[kind], kind
        for member in self.members:
            owed = sum(
                (f.amount - f.paid for f in self.fines.values() if f.member == member.pk and f.status == "UNPAID"), ZERO
            )
            assert books.get((AccountKind.FINES_RECEIVABLE, member.pk), ZERO) == owed

    @invariant()
    def loans_agree_with_the_ledger(self):
        books = self._balances()
        loans = Loan.objects.filter(group_id=self.gid).prefetch_related("installments")
        principal_by_borrower: dict[int, Decimal] = {}
        for loan in loans:
            model = self.loans[loan.id]
            assert loan.status == model.status, f"loan {loan.id}: {loan.status} != model {model.status}"
            lines = list(loan.installments.all())
            for line in lines:
                assert line.total_paid >= ZERO and line.outstanding >= 0
                assert line.principal_paid <= line.principal_due
            if loan.status in (LoanStatus.ACTIVE, LoanStatus.DEFAULTED):
                left = sum((line.principal_due - line.principal_paid for line in lines), ZERO)
                assert left == model.principal_left
                assert sum((line.outstanding for line in lines), ZERO) == model.owed > 0
                assert loan.position.principal_outstanding == left
                principal_by_borrower[loan.borrower_id] = principal_by_borrower.get(loan.borrower_id, ZERO) + left
            elif loan.status == LoanStatus.REPAID:
                assert all(line.outstanding == 0 for line in lines)
        for member in self.members:
            receivable = books.get((AccountKind.LOANS_RECEIVABLE, member.pk), ZERO)
            assert receivable == principal_by_borrower.get(member.pk, ZERO), f"member {member.pk} loans receivable"

    @invariant()
    def member_statements_equal_the_ledger(self):
        opening_rows = (
            Posting.objects.filter(group_id=self.gid, member_id__isnull=False, entry_date__lt=self.clock)
            .values("member_id", "account__kind")
            .annotate(total=Sum("amount"))
            .order_by()
        )
        before_clock = {(r["member_id"], r["account__kind"]): q(r["total"]) for r in opening_rows}
        books = self._balances()  # the accounts' running balances, natural sign
        for member in self.members:
            for kind in MEMBER_KINDS:
                sign = normal_sign(kind)
                windows = [None, self.clock] if kind == AccountKind.MEMBER_SAVINGS else [None]
                for date_from in windows:
                    statement = statement_build(
                        group_id=self.gid, kind=kind, member_id=member.pk, date_from=date_from, date_to=None
                    )
                    expected_opening = ZERO if date_from is None else before_clock.get((member.pk, kind), ZERO) * sign
                    assert statement.opening_balance == expected_opening + ZERO
                    running = statement.opening_balance
                    for line in statement.lines:
                        running += sign * (D(line["debit"]) - D(line["credit"]))
                        assert D(line["balance"]) == running
                    assert statement.closing_balance == running
                    assert statement.closing_balance == books.get((kind, member.pk), ZERO)
                    if kind == AccountKind.MEMBER_SAVINGS:
                        assert statement.closing_balance == self.savings[member.pk]


# A passing run takes ~30 s. On a failure Hypothesis shrinks for up to its own 5-minute cap (each example
# replays a whole chama), so allow that instead of letting pytest-timeout's 300 s cut the report off.
@pytest.mark.timeout(600)
def test_random_ledger_histories_keep_the_books_balanced():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


# --------------------------------------------------------------------------- a worked example


def test_worked_example_full_cycle(make_client):
    """
    Hand-computed cycle (today = T, cycle = [T−29, T], 30 days):
      A contributes 1,000.00 on T−29; B contributes 3,000.00 on T−19      cash 4,000.00
      A borrows 1,200.00 for 2 months, FLAT 12 %/yr: interest 1,200 × 12 % × 2/12 = 24.00,
        two instalments of 600.00 principal + 12.00 interest; disbursed T−14    cash 2,800.00
      A repays 612.00 on T−5: interest 12.00, principal 600.00               cash 3,412.00
      share-out of [T−29, T]: pool = 12.00 interest;
        weights A 1,000 × 30 = 30,000, B 3,000 × 20 = 60,000 -> A 4.00, B 8.00
      A settles early on T: instalment 2 is due T−14 + 2 months > T, so its 12.00 interest is
        waived and the settlement is 600.00                                  cash 4,012.00
    """
    T = timezone.localdate()
    group = make_group(
        cycle_start_date=T - timedelta(days=60),
        required_approvals=2,
        loan_interest_rate=D("12"),
        loan_interest_method="FLAT",
        loan_processing_fee=D("0"),
        max_loan_multiple=D("3"),
    )
    chair = User.objects.get(pk=chair_of(group).pk)
    treasurer = add_member(group, role=Role.TREASURER).user
    a = add_member(group).user
    b = add_member(group).user

    def bal(kind, member=None):
        return account_balance(group_id=group.id, kind=kind, member_id=member.pk if member else None)

    contribution_record(
        actor=treasurer,
        group_id=group.id,
        member_id=a.pk,
        amount=D("1000.00"),
        payment_method=PaymentMethod.CASH,
        paid_at=noon(T - timedelta(days=29)),
    )
    contribution_record(
        actor=treasurer,
        group_id=group.id,
        member_id=b.pk,
        amount=D("3000.00"),
        payment_method=PaymentMethod.CASH,
        paid_at=noon(T - timedelta(days=19)),
    )
    assert bal(AccountKind.CASH) == D("4000.00")

    loan = loan_apply(group_id=group.id, borrower=a, principal_amount=D("1200.00"), duration_months=2, purpose="stock")
    assert (loan.total_interest, loan.total_amount) == (D("24.00"), D("1224.00"))
    loan_decide(loan_id=loan.id, approver=chair, approved=True)
    loan_decide(loan_id=loan.id, approver=treasurer, approved=True)
    loan_disburse(loan_id=loan.id, actor=chair, disbursed_on=T - timedelta(days=14))
    assert bal(AccountKind.CASH) == D("2800.00")
    assert bal(AccountKind.LOANS_RECEIVABLE, a) == D("1200.00")

    repayment = loan_repayment_record(
        loan_id=loan.id,
        amount=D("612.00"),
        payment_method=PaymentMethod.CASH,
        paid_at=noon(T - timedelta(days=5)),
        actor=treasurer,
    )
    assert (repayment.interest_portion, repayment.principal_portion) == (D("12.00"), D("600.00"))
    assert bal(AccountKind.CASH) == D("3412.00")
    assert bal(AccountKind.LOANS_RECEIVABLE, a) == D("600.00")
    assert bal(AccountKind.INTEREST_INCOME) == D("12.00")

    share_out = share_out_post(actor=chair, group_id=group.id, cycle_start=T - timedelta(days=29), cycle_end=T)
    allocations = dict(ShareOutAllocation.objects.filter(share_out=share_out).values_list("member_id", "amount"))
    assert allocations == {a.pk: D("4.00"), b.pk: D("8.00")}
    assert bal(AccountKind.INTEREST_INCOME) == D("0.00")
    assert bal(AccountKind.MEMBER_SAVINGS, a) == D("1004.00")
    assert bal(AccountKind.MEMBER_SAVINGS, b) == D("3008.00")
    assert bal(AccountKind.MEMBER_SAVINGS, chair) == D("0.00")

    settlement = loan_settle(loan_id=loan.id, payment_method=PaymentMethod.CASH, actor=treasurer)
    assert (settlement.amount, settlement.interest_portion, settlement.principal_portion) == (
        D("600.00"),
        D("0.00"),
        D("600.00"),
    )
    loan.refresh_from_db()
    assert loan.status == LoanStatus.REPAID
    assert bal(AccountKind.CASH) == D("4012.00")
    assert bal(AccountKind.LOANS_RECEIVABLE, a) == D("0.00")
    assert bal(AccountKind.INTEREST_INCOME) == D("0.00")
    # Assets (cash 4,012.00 + loans 0) = liabilities (savings 1,004.00 + 3,008.00); postings sum to zero.
    assert q(trial_balance(group_id=group.id)) == ZERO

    # The member statement served by the API says the same.
    body = make_client(a).get("/api/v1/finance/statements/member/", {"group": group.id}).json()
    assert body["opening_balance"] == "0.00"
    assert [(line["credit"], line["balance"]) for line in body["lines"]] == [
        ("1000.00", "1000.00"),
        ("4.00", "1004.00"),
    ]
    assert body["closing_balance"] == "1004.00"
    loans_body = make_client(a).get("/api/v1/finance/statements/member/", {"group": group.id, "account": "loans"})
    assert loans_body.status_code == 200
    assert [(line["debit"], line["credit"]) for line in loans_body.json()["lines"]] == [
        ("1200.00", "0.00"),
        ("0.00", "600.00"),
        ("0.00", "600.00"),
    ]
    assert loans_body.json()["closing_balance"] == "0.00"
