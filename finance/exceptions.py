"""Finance error codes."""

from chamahub.exceptions import Conflict, DomainError, PermissionDenied


class UnbalancedEntry(DomainError):
    code = "unbalanced_entry"
    default_message = "Journal entry does not balance: debits must equal credits."


class DuplicateReference(Conflict):
    code = "duplicate_reference"
    default_message = "A journal entry with this reference has already been posted."


class AlreadyReversed(Conflict):
    code = "already_reversed"
    default_message = "This entry has already been reversed."


class InsufficientFunds(Conflict):
    code = "insufficient_funds"
    default_message = "The group does not have enough cash for this payment."


class InvalidState(Conflict):
    code = "invalid_state"
    default_message = "This action is not allowed in the object's current state."


class SelfApprovalForbidden(PermissionDenied):
    code = "self_approval"
    default_message = "You may not approve your own request."


class LoanLimitExceeded(DomainError):
    code = "loan_limit_exceeded"
    default_message = "The loan is above the group's limit."


class Overpayment(DomainError):
    code = "overpayment"
    default_message = "The amount is more than is owed."
