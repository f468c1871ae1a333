"""finance's reactions to other apps' domain events."""

from __future__ import annotations

import logging

from chamahub import events
from finance.services.ledger import chart_of_accounts_create

logger = logging.getLogger(__name__)


@events.subscribe("group.created")
def group_created_open_books(event: events.Event) -> None:
    """Safety net: make sure a new group has its chart of accounts (idempotent)."""
    chart_of_accounts_create(group_id=event.payload["group_id"])
