"""Choice values. Upper-case values match what the first ChamaHub web client sends and reads."""

from django.db import models


class GroupType(models.TextChoices):
    SAVINGS = "SAVINGS", "Savings"
    INVESTMENT = "INVESTMENT", "Investment"
    MERRY_GO_ROUND = "MERRY_GO_ROUND", "Merry-go-round"
    TABLE_BANKING = "TABLE_BANKING", "Table banking"
    WELFARE = "WELFARE", "Welfare"
    MIXED = "MIXED", "Mixed"


class ContributionFrequency(models.TextChoices):
    WEEKLY = "WEEKLY", "Weekly"
    BIWEEKLY = "BIWEEKLY", "Fortnightly"
    MONTHLY = "MONTHLY", "Monthly"


class InterestMethod(models.TextChoices):
    FLAT = "FLAT", "Flat rate"
    REDUCING = "REDUCING", "Reducing balance"


class Role(models.TextChoices):
    CHAIRPERSON = "CHAIRPERSON", "Chairperson"
    TREASURER = "TREASURER", "Treasurer"
    SECRETARY = "SECRETARY", "Secretary"
    MEMBER = "MEMBER", "Member"


OFFICIAL_ROLES = frozenset({Role.CHAIRPERSON, Role.TREASURER, Role.SECRETARY})


class MembershipStatus(models.TextChoices):
    INVITED = "INVITED", "Invited"
    ACTIVE = "ACTIVE", "Active"
    SUSPENDED = "SUSPENDED", "Suspended"
    EXITED = "EXITED", "Exited"


class InvitationStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    ACCEPTED = "ACCEPTED", "Accepted"
    DECLINED = "DECLINED", "Declined"
    REVOKED = "REVOKED", "Revoked"
    EXPIRED = "EXPIRED", "Expired"


class OfficialPosition(models.TextChoices):
    CHAIRPERSON = "CHAIRPERSON", "Chairperson"
    TREASURER = "TREASURER", "Treasurer"
    SECRETARY = "SECRETARY", "Secretary"


class GoalStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    ACHIEVED = "ACHIEVED", "Achieved"
    CANCELLED = "CANCELLED", "Cancelled"
