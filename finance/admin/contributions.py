"""
Admin for contributions, fines and share-outs.

Money, status and ledger links are read-only here: they change only through the services (which post
to the ledger), so rows cannot be added or deleted from the admin either.
"""

from django.contrib import admin

from finance.models import Contribution, Fine, ShareOut, ShareOutAllocation


class _ServiceOwnedAdmin(admin.ModelAdmin):
    """Rows written only by services: no add/delete in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Contribution)
class ContributionAdmin(_ServiceOwnedAdmin):
    list_display = [
        "id",
        "group",
        "member",
        "amount",
        "period",
        "payment_method",
        "status",
        "reference_number",
        "paid_at",
    ]
    list_filter = ["status", "payment_method", "group"]
    search_fields = ["reference_number", "notes", "member__phone_number", "member__email", "group__name"]
    date_hierarchy = "paid_at"
    list_select_related = ["group", "member"]
    readonly_fields = [
        "group",
        "member",
        "amount",
        "period",
        "payment_method",
        "status",
        "reference_number",
        "paid_at",
        "recorded_by",
        "confirmed_at",
        "reconciled_by",
        "reconciled_at",
        "reversed_at",
        "journal_entry",
        "created_at",
        "updated_at",
    ]


@admin.register(Fine)
class FineAdmin(_ServiceOwnedAdmin):
    list_display = ["id", "group", "member", "kind", "amount", "amount_paid", "status", "period", "created_at"]
    list_filter = ["kind", "status", "group"]
    search_fields = ["reason", "member__phone_number", "member__email", "group__name"]
    list_select_related = ["group", "member"]
    readonly_fields = [
        "group",
        "member",
        "kind",
        "amount",
        "amount_paid",
        "period",
        "status",
        "charged_by",
        "journal_entry",
        "created_at",
        "updated_at",
    ]


class ShareOutAllocationInline(admin.TabularInline):
    model = ShareOutAllocation
    extra = 0
    can_delete = False
    fields = ["member", "savings_days", "share_percent", "amount"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ShareOut)
class ShareOutAdmin(_ServiceOwnedAdmin):
    list_display = ["id", "group", "cycle_start", "cycle_end", "total_distributed", "status", "posted_by", "created_at"]
    list_filter = ["status", "group"]
    search_fields = ["group__name", "group__code"]
    list_select_related = ["group", "posted_by"]
    inlines = [ShareOutAllocationInline]
    readonly_fields = [
        "group",
        "cycle_start",
        "cycle_end",
        "total_distributed",
        "status",
        "posted_by",
        "journal_entry",
        "created_at",
        "updated_at",
    ]


@admin.register(ShareOutAllocation)
class ShareOutAllocationAdmin(_ServiceOwnedAdmin):
    list_display = ["id", "share_out", "member", "savings_days", "share_percent", "amount"]
    list_filter = ["group"]
    search_fields = ["member__phone_number", "member__email", "group__name"]
    list_select_related = ["share_out", "member"]
    readonly_fields = ["group", "share_out", "member", "savings_days", "share_percent", "amount"]
