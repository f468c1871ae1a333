"""Routes for loans, loan repayments, guarantors, expenses, disbursement approvals and signatures."""

from finance.views.approvals import ApprovalSignatureViewSet, DisbursementApprovalViewSet
from finance.views.expenses import ExpenseViewSet
from finance.views.loans import LoanGuarantorViewSet, LoanRepaymentViewSet, LoanViewSet


def register(router) -> None:
    router.register("loans", LoanViewSet, basename="loan")
    router.register("loan-repayments", LoanRepaymentViewSet, basename="loan-repayment")
    router.register("loan-guarantors", LoanGuarantorViewSet, basename="loan-guarantor")
    router.register("expenses", ExpenseViewSet, basename="expense")
    router.register("disbursement-approvals", DisbursementApprovalViewSet, basename="disbursement-approval")
    router.register("approval-signatures", ApprovalSignatureViewSet, basename="approval-signature")
