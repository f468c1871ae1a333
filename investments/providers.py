"""Figures investments provides to lower layers (see chamahub.extensions)."""

from __future__ import annotations

from decimal import Decimal

from chamahub import extensions
from investments.selectors import investments_summary as _investments_summary


@extensions.provides("group.investments_summary")
def investments_summary(group_ids) -> dict[int, dict[str, Decimal]]:
    """
    {group_id: {"total_investments": Σ current_value of ACTIVE investments, "invested_cost": Σ principal}}
    for every id asked (zeros when a group has none), in one query.
    """
    return _investments_summary(group_ids=list(group_ids))
