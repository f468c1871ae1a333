"""Kernel models: an abstract timestamped base, and the domain-event outbox."""

from __future__ import annotations

from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class OutboxEvent(models.Model):
    """
    A domain event written in the same database transaction as the change that caused it.
    The dispatcher (chamahub.events.outbox_dispatch) delivers it to every subscribed handler
    at least once; `EventDelivery` records each handler's success so a redelivery skips it.
    """

    name = models.CharField(max_length=100, db_index=True)
    group_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["dispatched_at", "id"], name="outbox_pending_idx")]

    def __str__(self) -> str:
        return f"{self.name}#{self.pk}"


class EventDelivery(models.Model):
    """One handler has processed one event. Unique, so a handler runs to success once per event."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    group_id = models.BigIntegerField(null=True, blank=True, help_text="The event's group (for distribution by group).")
    handler = models.CharField(max_length=200)
    delivered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "handler"], name="event_delivery_once")]

    def __str__(self) -> str:
        return f"{self.handler} <- {self.event_id}"
