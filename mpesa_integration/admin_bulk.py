"""Read-only admin for B2C bulk payouts: services own every write (money moved with them)."""

from __future__ import annotations

from django.contrib import admin

from chamahub.admin_base import ReadOnlyModelAdmin, ReadOnlyTabularInline
from mpesa_integration.models import BulkPaymentApproval, MPesaBulkPayment, MPesaBulkPaymentItem


class BulkPaymentApprovalInline(ReadOnlyTabularInline):
    model = BulkPaymentApproval
    fields = ["approver", "approved", "comments", "created_at"]
    raw_id_fields = ["approver"]


class BulkPaymentItemInline(ReadOnlyTabularInline):
    model = MPesaBulkPaymentItem
    fields = [
        "member",
        "phone",
        "amount",
        "loan",
        "status",
        "attempts",
        "transaction",
        "result_code",
        "result_desc",
        "receipt_number",
    ]
    raw_id_fields = ["member", "loan", "transaction"]


@admin.register(MPesaBulkPayment)
class MPesaBulkPaymentAdmin(ReadOnlyModelAdmin):
    list_display = [
        "batch_id",
        "group",
        "purpose",
        "status",
        "total_amount",
        "paid_amount",
        "total_recipients",
        "successful_count",
        "failed_count",
        "created_at",
    ]
    list_filter = ["status", "purpose"]
    search_fields = ["batch_id", "description"]
    list_select_related = ["group"]
    raw_id_fields = ["group", "initiated_by"]
    date_hierarchy = "created_at"
    inlines = [BulkPaymentApprovalInline, BulkPaymentItemInline]
