"""Routes for loans, loan repayments, guarantors, expenses, disbursement approvals and signatures."""


def register(router) -> None:
    pass
