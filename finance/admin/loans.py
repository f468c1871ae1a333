"""Admin for loans, repayments, guarantors, expenses, approvals."""
