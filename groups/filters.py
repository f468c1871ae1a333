"""
FilterSets for the groups API.

Foreign keys are filtered by plain ids (NumberFilter), never ModelChoiceFilter: a model-choice filter answers
400 for an id that does not exist and 200 for another group's id, which would reveal which groups exist.
"""

from __future__ import annotations

import django_filters

from chamahub.api.filters import IdFilter
from groups.choices import GoalStatus, GroupType, InvitationStatus, MembershipStatus, OfficialPosition, Role
from groups.models import ChamaGroup, GroupGoal, GroupInvitation, GroupMessage, GroupOfficial, Membership


class ChamaGroupFilterSet(django_filters.FilterSet):
    group_type = django_filters.ChoiceFilter(choices=GroupType.choices)
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = ChamaGroup
        fields = ["group_type", "is_active"]


class MembershipFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    user = IdFilter(field_name="user_id")
    role = django_filters.ChoiceFilter(choices=Role.choices)
    status = django_filters.ChoiceFilter(choices=MembershipStatus.choices)

    class Meta:
        model = Membership
        fields = ["group", "user", "role", "status"]


class GroupInvitationFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    status = django_filters.ChoiceFilter(choices=InvitationStatus.choices)
    role = django_filters.ChoiceFilter(choices=Role.choices)

    class Meta:
        model = GroupInvitation
        fields = ["group", "status", "role"]


class GroupOfficialFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    membership = IdFilter(field_name="membership_id")
    position = django_filters.ChoiceFilter(choices=OfficialPosition.choices)
    is_current = django_filters.BooleanFilter()

    class Meta:
        model = GroupOfficial
        fields = ["group", "membership", "position", "is_current"]


class GroupGoalFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    status = django_filters.ChoiceFilter(choices=GoalStatus.choices)

    class Meta:
        model = GroupGoal
        fields = ["group", "status"]


class GroupMessageFilterSet(django_filters.FilterSet):
    group = IdFilter(field_name="group_id")
    user = IdFilter(field_name="user_id")

    class Meta:
        model = GroupMessage
        fields = ["group", "user"]
