"""Reads for share-outs (scoped to the caller's active groups)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from finance.models import ShareOut, ShareOutAllocation
from groups.selectors import active_group_ids, group_member_list


def share_out_list(*, user) -> QuerySet[ShareOut]:
    allocations = ShareOutAllocation.objects.select_related("member").order_by("member_id")
    return (
        ShareOut.objects.filter(group_id__in=active_group_ids(user))
        .select_related("group")
        .prefetch_related(Prefetch("allocations", queryset=allocations))
    )


def member_names_get(*, group_id: int, user_ids: list[int]) -> dict[int, str]:
    """{user id: full name} for members (of any status) of the group, in one query."""
    return {m.user_id: m.user.full_name for m in group_member_list(group_id=group_id).filter(user_id__in=user_ids)}
