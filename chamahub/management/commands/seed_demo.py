"""
manage.py seed_demo — demo data through the real services, so every shilling is a balanced ledger posting.

3 groups, 30 members with Kenyan names and phone numbers, 12 months of contributions (some late, some
missed), late fines, loans in every status, expenses, investments, goals and messages. Idempotent: a group
whose code exists is left alone. Prints the demo logins.

Lives in the project package (the composition root, like chamahub/urls.py) because it drives every app.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from finance.choices import AccountKind, PaymentMethod
from finance.models import LoanInstallment
from finance.selectors.ledger import account_balance, trial_balance
from finance.services.approvals import approval_sign
from finance.services.contributions import contribution_confirm, contribution_record
from finance.services.expenses import expense_create, expense_pay
from finance.services.fines import fine_pay, late_fines_charge
from finance.services.loans import (
    loan_apply,
    loan_decide,
    loan_disburse,
    loan_guarantor_respond,
    loan_repayment_record,
    loan_write_off,
    loans_overdue_scan,
)
from groups.choices import ContributionFrequency, GroupType, Role
from groups.models import ChamaGroup
from groups.services import goal_create, group_create, membership_activate, message_post
from investments.services import investment_create, investment_transaction_record, stock_holding_create

DEMO_PASSWORD = "ChamaDemo#2026"

FIRST_NAMES = [
    "Wanjiku",
    "Otieno",
    "Achieng",
    "Kamau",
    "Mwangi",
    "Njeri",
    "Kiprop",
    "Chebet",
    "Mutua",
    "Wambui",
    "Omondi",
    "Akinyi",
    "Kibet",
    "Jepchirchir",
    "Muthoni",
    "Ochieng",
    "Nyambura",
    "Kariuki",
    "Atieno",
    "Barasa",
    "Wafula",
    "Nekesa",
    "Makena",
    "Kimani",
    "Moraa",
    "Nyaboke",
    "Onyango",
    "Adhiambo",
    "Karanja",
    "Waweru",
]
LAST_NAMES = [
    "Kamau",
    "Odhiambo",
    "Wanjala",
    "Mutiso",
    "Kiptoo",
    "Njoroge",
    "Cheruiyot",
    "Ouma",
    "Gitau",
    "Mbugua",
    "Owino",
    "Kiprono",
    "Nduta",
    "Wekesa",
    "Maina",
    "Okoth",
    "Rotich",
    "Ngugi",
    "Mwende",
    "Kilonzo",
    "Simiyu",
    "Nafula",
    "Kendi",
    "Wairimu",
    "Kerubo",
    "Bosire",
    "Okello",
    "Awino",
    "Gachanja",
    "Ndirangu",
]


@dataclass(frozen=True)
class GroupPlan:
    code: str
    name: str
    group_type: str
    amount: Decimal
    description: str


GROUPS = [
    GroupPlan(
        "DEMOUMJ",
        "Umoja Savings Group",
        GroupType.SAVINGS,
        Decimal("2000.00"),
        "Neighbours in Kawangware saving monthly and lending to each other.",
    ),
    GroupPlan(
        "DEMOTUJ",
        "Tujenge Investment Club",
        GroupType.INVESTMENT,
        Decimal("5000.00"),
        "Young professionals pooling savings into T-bonds, a money market fund and NSE shares.",
    ),
    GroupPlan(
        "DEMOWAN",
        "Wanawake Table Banking",
        GroupType.TABLE_BANKING,
        Decimal("1000.00"),
        "Market women in Kisumu: table banking with monthly loans.",
    ),
]


def _months_ago(n: int) -> date:
    today = timezone.localdate().replace(day=1)
    month = today.month - 1 - n
    return date(today.year + month // 12, month % 12 + 1, 1)


def _aware(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


class Command(BaseCommand):
    help = "Seed demo groups, members, contributions, fines, loans, expenses and investments (idempotent)."

    def handle(self, *args, **options) -> None:
        rng = random.Random(2026)
        logins: list[tuple[str, str, str]] = []
        for index, plan in enumerate(GROUPS):
            people = self._people(index)
            if ChamaGroup.objects.filter(code=plan.code).exists():
                self.stdout.write(f"{plan.name}: already seeded")
            else:
                with transaction.atomic():
                    group = self._seed_group(plan, people, rng)
                self.stdout.write(self.style.SUCCESS(f"{plan.name}: seeded (group id {group.id})"))
            logins += [
                (people[0].phone_number, "chairperson", plan.name),
                (people[1].phone_number, "treasurer", plan.name),
                (people[3].phone_number, "member", plan.name),
            ]
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for phone, role, group_name in logins:
            user = User.objects.get(phone_number=phone)
            self.stdout.write(f"  {phone}  {user.email:<32} {role:<12} {group_name}")

    # --- people --------------------------------------------------------------------------------
    def _people(self, group_index: int) -> list[User]:
        people = []
        for k in range(10):
            n = group_index * 10 + k
            phone = f"+2547{12 + group_index:02d}{345600 + k:06d}"
            user = User.objects.filter(phone_number=phone).first()
            if user is None:
                user = User.objects.create_user(
                    phone,
                    DEMO_PASSWORD,
                    email=f"{FIRST_NAMES[n].lower()}.{LAST_NAMES[n].lower()}@demo.chamahub.co.ke",
                    first_name=FIRST_NAMES[n],
                    last_name=LAST_NAMES[n],
                )
            people.append(user)
        return people

    # --- one group -----------------------------------------------------------------------------
    def _seed_group(self, plan: GroupPlan, people: list[User], rng: random.Random) -> ChamaGroup:
        cycle_start = _months_ago(12)
        chair, treasurer, secretary, *members = people
        group = group_create(
            creator=chair,
            name=plan.name,
            code=plan.code,
            description=plan.description,
            group_type=plan.group_type,
            contribution_amount=plan.amount,
            contribution_frequency=ContributionFrequency.MONTHLY,
            cycle_start_date=cycle_start,
            late_fine_amount=Decimal("200.00"),
            late_fine_grace_days=5,
            loan_interest_rate=Decimal("12.0000"),
            max_loan_multiple=Decimal("3.00"),
            required_approvals=2,
            loan_processing_fee=Decimal("100.00"),
        )
        joined = _aware(cycle_start, 9)
        membership_activate(group=group, user=treasurer, role=Role.TREASURER, joined_at=joined)
        membership_activate(group=group, user=secretary, role=Role.SECRETARY, joined_at=joined)
        for user in members:
            membership_activate(group=group, user=user, joined_at=joined)
        for user in (chair, treasurer):
            user.__dict__.pop("_chamahub_active_memberships", None)

        self._contributions(group, people, treasurer, rng, cycle_start)
        late_fines_charge(as_of=timezone.localdate(), group_id=group.id)
        self._pay_some_fines(group, treasurer, rng)
        self._loans_and_expenses(group, chair, treasurer, secretary, members, rng)
        if plan.group_type == GroupType.INVESTMENT:
            self._investments(group, treasurer)
        else:
            self._fixed_deposit(group, treasurer)
        self._mpesa(group, people)
        self._payouts(group, chair, treasurer, people)
        self._statement(group, treasurer)
        self._reversal(group, treasurer)
        goal_create(
            actor=chair,
            group_id=group.id,
            title="Land in Kitengela",
            target_amount=plan.amount * 150,
            target_date=timezone.localdate() + timedelta(days=365),
            start_date=cycle_start,
            description="Buy a quarter-acre plot as a group.",
        )
        message_post(actor=chair, group_id=group.id, content="Karibuni! Contributions are due by the 5th.")
        message_post(actor=treasurer, group_id=group.id, content="Statements for last month are ready.")
        if trial_balance(group_id=group.id) != 0:
            raise CommandError(f"{plan.name}: the ledger does not balance")
        return group

    def _contributions(self, group, people, treasurer, rng, cycle_start) -> None:
        today = timezone.localdate()
        for m in range(12):
            period = _months_ago(12 - m)
            for user in people:
                roll = rng.random()
                if roll < 0.08:
                    continue  # missed
                day = period + timedelta(days=rng.randint(12, 25) if roll < 0.22 else rng.randint(0, 4))
                if day > today:
                    continue
                method = PaymentMethod.MPESA if rng.random() < 0.7 else PaymentMethod.CASH
                contribution = contribution_record(
                    actor=treasurer,
                    group_id=group.id,
                    member_id=user.id,
                    amount=group.contribution_amount,
                    payment_method=method,
                    period=period,
                    paid_at=_aware(day, rng.randint(7, 20)),
                    reference_number=f"S{group.code[-3:]}{m:02d}{user.id:05d}"
                    if method == PaymentMethod.MPESA
                    else None,
                )
                if method == PaymentMethod.MPESA:
                    contribution_confirm(contribution_id=contribution.id, actor=treasurer)

    def _mpesa(self, group, people) -> None:
        """This month's M-Pesa activity: paid, cancelled and pending STK pushes, and a payment held in suspense."""
        from mpesa_integration.choices import Purpose, TransactionKind, TransactionStatus
        from mpesa_integration.models import MPesaTransaction
        from mpesa_integration.services.settlement import pay_in_target_attach
        from mpesa_integration.services.stk import stk_result_apply

        base = f"{group.code[-3:]}{timezone.localdate():%m}"
        outcomes = [("0", ""), ("0", ""), ("1032", "Request cancelled by user"), (None, ""), ("0", "450")]
        for k, (code, extra) in enumerate(outcomes):
            user = people[3 + k]
            txn = MPesaTransaction(
                kind=TransactionKind.STK, group=group, member=user, initiated_by=user, amount=group.contribution_amount,
                phone=user.phone_number.lstrip("+"), account_reference=group.code[:12], transaction_desc="Contribution",
                checkout_request_id=f"ws_CO_DEMO{base}{k:02d}", merchant_request_id=f"DEMO-{base}-{k}",
                status=TransactionStatus.ACCEPTED,
            )  # fmt: skip
            pay_in_target_attach(txn, purpose=Purpose.CONTRIBUTION, target_id=None, member_id=user.id)
            txn.save()
            if code is None:
                continue  # still waiting for the member's PIN
            paid = Decimal(extra) if code == "0" and extra else txn.amount  # the last one paid the wrong amount
            stk_result_apply(
                txn, result_code=code, result_desc=extra or "The service request is processed successfully.",
                amount=paid, receipt=f"SD{base}{k:02d}X"[:10] if code == "0" else None, phone=txn.phone,
                callback_body={},
            )  # fmt: skip

    def _payouts(self, group, chair, treasurer, people) -> None:
        """A B2C refund batch awaiting its second approval (the maker cannot approve it)."""
        from mpesa_integration.services.bulk import bulk_payment_approve, bulk_payment_create

        batch = bulk_payment_create(
            actor=treasurer, group_id=group.id, purpose="refund", description="Refund of overpaid contributions",
            items=[
                {"member": people[4].id, "amount": Decimal("500")},
                {"member": people[5].id, "amount": Decimal("300")},
            ],
        )  # fmt: skip
        bulk_payment_approve(actor=chair, bulk_payment_id=batch.id, approved=True, comments="Checked the statement.")

    def _statement(self, group, treasurer) -> None:
        """This month's M-Pesa statement, reconciled: the paid pushes match; one paybill payment is missing here."""
        import io

        from mpesa_integration.models import MPesaTransaction
        from mpesa_integration.services.reconciliation import reconciliation_create

        lines = ["Receipt No.,Completion Time,Details,Transaction Status,Paid In,Withdrawn,Other Party Info"]
        paid = MPesaTransaction.objects.filter(group=group, status="succeeded").exclude(receipt_number=None)
        for txn in paid.order_by("id"):
            when = timezone.localtime(txn.transaction_date or txn.created_at)
            lines.append(
                f"{txn.receipt_number},{when:%Y-%m-%d %H:%M:%S},Pay Bill Online,Completed,{txn.amount},,"
                f"{txn.phone} - MEMBER"
            )
        when = timezone.localtime() - timedelta(hours=1)
        lines.append(f"SX{group.code[-3:]}{when:%m%d}Z,{when:%Y-%m-%d %H:%M:%S},Pay Bill Online,Completed,"
                     f"750.00,,254700000000 - UNKNOWN PAYER")  # fmt: skip
        reconciliation_create(
            actor=treasurer,
            group_id=group.id,
            file=io.BytesIO(("\r\n".join(lines) + "\r\n").encode()),
            file_name=f"{group.code}-statement-{timezone.localdate():%Y-%m}.csv",
        )

    def _reversal(self, group, treasurer) -> None:
        """The payment that went to suspense (wrong amount) is being returned: awaiting a second official."""
        from mpesa_integration.models import MPesaTransaction
        from mpesa_integration.services.reversals import reversal_request

        held = MPesaTransaction.objects.filter(group=group, settlement="suspense").order_by("id").first()
        if held is not None:
            reversal_request(actor=treasurer, transaction_id=held.id, reason="Paid the wrong amount")

    def _pay_some_fines(self, group, treasurer, rng) -> None:
        from finance.models import Fine

        for fine in Fine.objects.filter(group=group).order_by("id"):
            if rng.random() < 0.5:
                fine_pay(fine_id=fine.id, actor=treasurer, amount=fine.amount)

    def _loans_and_expenses(self, group, chair, treasurer, secretary, members, rng) -> None:
        """Loans in every status (repaid, active, defaulted, written off, approved, rejected, pending) and expenses."""
        amount = group.contribution_amount
        today = timezone.localdate()

        def apply(borrower, principal, months, purpose, guarantors=None):
            return loan_apply(
                group_id=group.id,
                borrower=borrower,
                principal_amount=principal,
                duration_months=months,
                purpose=purpose,
                guarantors=guarantors or [],
            )

        def approve(loan):
            for official in (chair, treasurer):
                loan_decide(loan_id=loan.id, approver=official, approved=True, comments="Approved at the meeting")

        def disburse(loan, months_ago):
            return loan_disburse(
                loan_id=loan.id, actor=treasurer, disbursed_on=_months_ago(months_ago) + timedelta(days=9)
            )

        def repay(loan, count):
            for line in LoanInstallment.objects.filter(loan=loan).order_by("number")[:count]:
                if line.due_date > today:
                    break
                loan_repayment_record(
                    loan_id=loan.id,
                    amount=line.total_due - line.total_paid,
                    payment_method=PaymentMethod.MPESA,
                    paid_at=_aware(line.due_date, 12),
                    actor=treasurer,
                    reference=f"R{group.code[-3:]}{loan.id:04d}{line.number:02d}",
                )

        repaid = apply(members[0], amount * 3, 6, "School fees for Form 3")
        approve(repaid)
        disburse(repaid, 9)
        repay(repaid, 6)
        active = apply(
            members[1], amount * 4, 12, "Restock the mitumba stall", [{"guarantor": secretary.id, "amount": amount * 2}]
        )
        loan_guarantor_respond(guarantee_id=active.guarantors.get().id, user=secretary, accept=True)
        approve(active)
        disburse(active, 4)
        repay(active, 3)
        defaulted = apply(members[2], amount * 2, 6, "Boda boda repairs")
        approve(defaulted)
        disburse(defaulted, 8)
        repay(defaulted, 1)
        written_off = apply(members[3], amount * 2, 4, "Medical bills")
        approve(written_off)
        disburse(written_off, 11)
        loans_overdue_scan(as_of=today)
        loan_write_off(loan_id=written_off.id, actor=chair, reason="Member relocated; recovery not possible")
        approve(apply(members[4], amount * 2, 6, "Dairy cow"))
        rejected = apply(members[5], amount * 3, 12, "Wedding")
        loan_decide(loan_id=rejected.id, approver=treasurer, approved=False, comments="Not a productive purpose")
        apply(members[6], amount, 3, "Greenhouse kit", [{"guarantor": members[0].id, "amount": amount}])

        for category, description, cost in (
            ("ADMINISTRATIVE", "Annual registration renewal (Social Services)", Decimal("1500.00")),
            ("OPERATIONAL", "Meeting venue hire, quarterly", Decimal("3000.00")),
        ):
            expense = expense_create(
                group_id=group.id, requested_by=secretary, category=category, description=description, amount=cost
            )
            for official in (chair, treasurer):
                approval_sign(approval_id=expense.approval.id, approver=official, approved=True)
            expense_pay(expense_id=expense.id, actor=treasurer)
        expense_create(
            group_id=group.id,
            requested_by=secretary,
            category="WELFARE",
            description="Get-well basket for a member",
            amount=Decimal("2500.00"),
        )

    def _investments(self, group, treasurer) -> None:
        cash = account_balance(group_id=group.id, kind=AccountKind.CASH)
        start = _months_ago(9)
        mmf = investment_create(
            group_id=group.id,
            user=treasurer,
            investment_type="MONEY_MARKET",
            name="CIC Money Market Fund",
            principal_amount=(cash * Decimal("0.2")).quantize(Decimal("1")),
            purchase_date=start,
            expected_return_rate=Decimal("11.5"),
            description="Liquid reserve",
        )
        investment_transaction_record(
            investment=mmf,
            user=treasurer,
            transaction_type="INTEREST",
            amount=Decimal("3150.00"),
            transaction_date=_months_ago(2),
        )
        investment_create(
            group_id=group.id,
            user=treasurer,
            investment_type="TREASURY_BOND",
            name="Kenya IFB 2023/12",
            principal_amount=Decimal("50000.00"),
            purchase_date=start + timedelta(days=20),
            expected_return_rate=Decimal("14.0"),
            maturity_date=start + timedelta(days=365 * 12),
        )
        holding = stock_holding_create(
            group_id=group.id,
            user=treasurer,
            stock_symbol="SCOM",
            stock_name="Safaricom PLC",
            shares_quantity=1000,
            purchase_price_per_share=Decimal("16.50"),
            purchase_date=start + timedelta(days=40),
            current_price_per_share=Decimal("18.20"),
        )
        investment_transaction_record(
            investment=holding.investment,
            user=treasurer,
            transaction_type="DIVIDEND",
            amount=Decimal("1200.00"),
            transaction_date=_months_ago(3),
        )

    def _fixed_deposit(self, group, treasurer) -> None:
        investment_create(
            group_id=group.id,
            user=treasurer,
            investment_type="FIXED_DEPOSIT",
            name="Equity Bank 6-month FD",
            principal_amount=Decimal("20000.00"),
            purchase_date=_months_ago(6),
            expected_return_rate=Decimal("9.0"),
            maturity_date=_months_ago(6) + timedelta(days=182),
        )
