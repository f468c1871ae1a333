"""Finance choice values (upper-case, as the first web client sends and reads)."""

from django.db import models


class AccountType(models.TextChoices):
    ASSET = "ASSET", "Asset"
    LIABILITY = "LIABILITY", "Liability"
    EQUITY = "EQUITY", "Equity"
    INCOME = "INCOME", "Income"
    EXPENSE = "EXPENSE", "Expense"


class AccountKind(models.TextChoices):
    """The chart of accounts of a group. Kinds marked per-member have one account per member."""

    CASH = "CASH", "Cash (M-Pesa float / bank)"
    MPESA_CLEARING = "MPESA_CLEARING", "M-Pesa clearing"
    SUSPENSE = "SUSPENSE", "Suspense"
    INVESTMENTS = "INVESTMENTS", "Investments at cost"
    MEMBER_SAVINGS = "MEMBER_SAVINGS", "Member savings"  # per member
    LOANS_RECEIVABLE = "LOANS_RECEIVABLE", "Loans receivable"  # per member
    FINES_RECEIVABLE = "FINES_RECEIVABLE", "Fines receivable"  # per member
    INTEREST_INCOME = "INTEREST_INCOME", "Loan interest income"
    FEES_INCOME = "FEES_INCOME", "Loan fees income"
    FINES_INCOME = "FINES_INCOME", "Fines income"
    INVESTMENT_INCOME = "INVESTMENT_INCOME", "Investment income"
    EXPENSES = "EXPENSES", "Operating expenses"
    BAD_DEBTS = "BAD_DEBTS", "Bad debts written off"
    RETAINED_EARNINGS = "RETAINED_EARNINGS", "Retained earnings"


PER_MEMBER_KINDS = frozenset({AccountKind.MEMBER_SAVINGS, AccountKind.LOANS_RECEIVABLE, AccountKind.FINES_RECEIVABLE})

KIND_TYPES = {
    AccountKind.CASH: AccountType.ASSET,
    AccountKind.MPESA_CLEARING: AccountType.ASSET,
    AccountKind.SUSPENSE: AccountType.LIABILITY,
    AccountKind.INVESTMENTS: AccountType.ASSET,
    AccountKind.MEMBER_SAVINGS: AccountType.LIABILITY,
    AccountKind.LOANS_RECEIVABLE: AccountType.ASSET,
    AccountKind.FINES_RECEIVABLE: AccountType.ASSET,
    AccountKind.INTEREST_INCOME: AccountType.INCOME,
    AccountKind.FEES_INCOME: AccountType.INCOME,
    AccountKind.FINES_INCOME: AccountType.INCOME,
    AccountKind.INVESTMENT_INCOME: AccountType.INCOME,
    AccountKind.EXPENSES: AccountType.EXPENSE,
    AccountKind.BAD_DEBTS: AccountType.EXPENSE,
    AccountKind.RETAINED_EARNINGS: AccountType.EQUITY,
}

ACCOUNT_CODES = {
    AccountKind.CASH: "1000",
    AccountKind.MPESA_CLEARING: "1010",
    AccountKind.INVESTMENTS: "1200",
    AccountKind.LOANS_RECEIVABLE: "1300",
    AccountKind.FINES_RECEIVABLE: "1400",
    AccountKind.MEMBER_SAVINGS: "2000",
    AccountKind.SUSPENSE: "2900",
    AccountKind.RETAINED_EARNINGS: "3000",
    AccountKind.INTEREST_INCOME: "4000",
    AccountKind.FEES_INCOME: "4010",
    AccountKind.FINES_INCOME: "4100",
    AccountKind.INVESTMENT_INCOME: "4200",
    AccountKind.EXPENSES: "5000",
    AccountKind.BAD_DEBTS: "5100",
}


class EntryKind(models.TextChoices):
    CONTRIBUTION = "CONTRIBUTION", "Contribution"
    FINE_CHARGE = "FINE_CHARGE", "Fine charged"
    FINE_PAYMENT = "FINE_PAYMENT", "Fine paid"
    FINE_WAIVER = "FINE_WAIVER", "Fine waived"
    LOAN_DISBURSEMENT = "LOAN_DISBURSEMENT", "Loan disbursement"
    LOAN_REPAYMENT = "LOAN_REPAYMENT", "Loan repayment"
    LOAN_WRITE_OFF = "LOAN_WRITE_OFF", "Loan write-off"
    EXPENSE = "EXPENSE", "Expense"
    SHARE_OUT = "SHARE_OUT", "Share-out distribution"
    INVESTMENT = "INVESTMENT", "Investment"
    SUSPENSE = "SUSPENSE", "Suspense"
    REVERSAL = "REVERSAL", "Reversal"
    ADJUSTMENT = "ADJUSTMENT", "Adjustment"


class PaymentMethod(models.TextChoices):
    MPESA = "MPESA", "M-Pesa"
    CASH = "CASH", "Cash"
    BANK = "BANK", "Bank"
    OTHER = "OTHER", "Other"


class ContributionStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    CONFIRMED = "CONFIRMED", "Confirmed"
    FAILED = "FAILED", "Failed"
    REVERSED = "REVERSED", "Reversed"


# Values the first web client filters by, mapped onto ours.
LEGACY_CONTRIBUTION_STATUS = {"COMPLETED": ContributionStatus.CONFIRMED, "RECONCILED": ContributionStatus.CONFIRMED}


class FineKind(models.TextChoices):
    LATE_CONTRIBUTION = "LATE_CONTRIBUTION", "Late contribution"
    MANUAL = "MANUAL", "Manual (rule breach, absence, ...)"


class FineStatus(models.TextChoices):
    UNPAID = "UNPAID", "Unpaid"
    PAID = "PAID", "Paid"
    WAIVED = "WAIVED", "Waived"


class LoanStatus(models.TextChoices):
    PENDING = "PENDING", "Pending approval"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"
    ACTIVE = "ACTIVE", "Active (disbursed)"
    REPAID = "REPAID", "Repaid"
    DEFAULTED = "DEFAULTED", "Defaulted"
    WRITTEN_OFF = "WRITTEN_OFF", "Written off"


LEGACY_LOAN_STATUS = {"COMPLETED": LoanStatus.REPAID, "DISBURSED": LoanStatus.ACTIVE}


class GuarantorStatus(models.TextChoices):
    PENDING = "PENDING", "Awaiting consent"
    ACCEPTED = "ACCEPTED", "Accepted"
    DECLINED = "DECLINED", "Declined"
    RELEASED = "RELEASED", "Released"


class RepaymentStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    COMPLETED = "COMPLETED", "Completed"
    FAILED = "FAILED", "Failed"
    REVERSED = "REVERSED", "Reversed"


class ExpenseCategory(models.TextChoices):
    OPERATIONAL = "OPERATIONAL", "Operational"
    ADMINISTRATIVE = "ADMINISTRATIVE", "Administrative"
    WELFARE = "WELFARE", "Welfare"
    INVESTMENT = "INVESTMENT", "Investment"
    OTHER = "OTHER", "Other"


class ExpenseStatus(models.TextChoices):
    PENDING = "PENDING", "Pending approval"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"
    DISBURSED = "DISBURSED", "Paid out"


class ApprovalType(models.TextChoices):
    LOAN = "LOAN", "Loan"
    EXPENSE = "EXPENSE", "Expense"
    WITHDRAWAL = "WITHDRAWAL", "Withdrawal"


class ApprovalStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"


class ShareOutStatus(models.TextChoices):
    POSTED = "POSTED", "Posted"
    REVERSED = "REVERSED", "Reversed"
