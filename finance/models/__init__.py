from finance.models.approvals import ApprovalSignature, DisbursementApproval, Expense
from finance.models.contributions import Contribution, Fine
from finance.models.ledger import JournalEntry, LedgerAccount, Posting
from finance.models.loans import Loan, LoanGuarantor, LoanInstallment, LoanRepayment
from finance.models.shareout import ShareOut, ShareOutAllocation

__all__ = [
    "ApprovalSignature",
    "Contribution",
    "DisbursementApproval",
    "Expense",
    "Fine",
    "JournalEntry",
    "LedgerAccount",
    "Loan",
    "LoanGuarantor",
    "LoanInstallment",
    "LoanRepayment",
    "Posting",
    "ShareOut",
    "ShareOutAllocation",
]
