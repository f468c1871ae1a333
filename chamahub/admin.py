"""Admin for the domain-event outbox: read-only, for operators looking at stuck or failed events."""

from django.contrib import admin

from chamahub.admin_base import ReadOnlyModelAdmin, ReadOnlyTabularInline
from chamahub.models import EventDelivery, OutboxEvent


class EventDeliveryInline(ReadOnlyTabularInline):
    model = EventDelivery
    fields = ["handler", "group_id", "delivered_at"]


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "name", "group_id", "created_at", "dispatched_at", "attempts"]
    list_filter = ["name", ("dispatched_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "last_error"]
    inlines = [EventDeliveryInline]


@admin.register(EventDelivery)
class EventDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "event", "handler", "delivered_at"]
    list_filter = ["handler"]
    search_fields = ["handler"]
