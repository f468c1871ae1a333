"""Investment error codes."""

from chamahub.exceptions import Conflict, ValidationFailed


class InvestmentClosed(Conflict):
    code = "investment_closed"
    default_message = "This investment is no longer active (sold or matured); it takes no more transactions."


class ImmutableField(ValidationFailed):
    code = "immutable_field"
    default_message = "Some fields cannot be changed this way."


class HoldingExists(Conflict):
    code = "holding_exists"
    default_message = "The group already holds this stock; buy more through the holding's buy action."
