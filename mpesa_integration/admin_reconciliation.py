"""Read-only admin for statement reconciliations: services own every write (they post to the ledger)."""

from __future__ import annotations

from django.contrib import admin

from chamahub.admin_base import ReadOnlyModelAdmin, ReadOnlyTabularInline
from mpesa_integration.models import PaymentReconciliation, ReconciliationException


class ReconciliationExceptionInline(ReadOnlyTabularInline):
    """The first SHOWN exceptions of a reconciliation (a large statement has thousands: use the exception list)."""

    model = ReconciliationException
    fields = [
        "kind",
        "receipt_number",
        "phone",
        "statement_amount",
        "chamahub_amount",
        "direction",
        "completed_at",
        "statement_line",
        "transaction",
        "resolution",
    ]
    shown = 100

    def get_formset(self, request, obj=None, **kwargs):
        self._parent_id = obj.pk if obj is not None else None  # inline instances are built per request
        return super().get_formset(request, obj, **kwargs)

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("transaction")
        parent_id = getattr(self, "_parent_id", None)
        if parent_id is not None:
            first = queryset.filter(reconciliation_id=parent_id).order_by("id").values_list("id", flat=True)
            queryset = queryset.filter(pk__in=list(first[: self.shown]))
        return queryset


@admin.register(PaymentReconciliation)
class PaymentReconciliationAdmin(ReadOnlyModelAdmin):
    list_display = [
        "id",
        "group",
        "file_name",
        "status",
        "period_start",
        "period_end",
        "rows_total",
        "matched_count",
        "open_exceptions",
        "duration_ms",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["file_name", "file_sha256", "group__name", "group__code"]
    list_select_related = ["group"]
    raw_id_fields = ["group", "uploaded_by"]
    date_hierarchy = "created_at"
    inlines = [ReconciliationExceptionInline]


@admin.register(ReconciliationException)
class ReconciliationExceptionAdmin(ReadOnlyModelAdmin):
    list_display = [
        "id",
        "reconciliation",
        "group",
        "kind",
        "receipt_number",
        "phone",
        "statement_amount",
        "chamahub_amount",
        "resolution",
        "resolved_at",
    ]
    list_filter = ["kind", "resolution"]
    search_fields = ["receipt_number", "phone", "details"]
    list_select_related = ["group", "reconciliation"]
    raw_id_fields = ["reconciliation", "group", "transaction", "resolved_by"]
    date_hierarchy = "created_at"
