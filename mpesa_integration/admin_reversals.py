"""Read-only admin for M-Pesa payment reversals: services own every write (money moves with them)."""

from __future__ import annotations

from django.contrib import admin

from chamahub.admin_base import ReadOnlyModelAdmin
from mpesa_integration.models import PaymentReversal


@admin.register(PaymentReversal)
class PaymentReversalAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "group", "transaction", "amount", "status", "requested_by", "decided_by", "created_at"]
    list_filter = ["status"]
    search_fields = ["reason", "originator_conversation_id", "conversation_id", "transaction__receipt_number"]
    list_select_related = ["group", "transaction", "requested_by", "decided_by"]
    raw_id_fields = ["group", "transaction", "requested_by", "decided_by", "journal_entry"]
    date_hierarchy = "created_at"
