"""
Read-only admin for M-Pesa: transactions and the callback log are written only by the M-Pesa flows (money moved
with them), so staff read them here and act through the API (allocate, query, resolve).
"""

from django.contrib import admin

from chamahub.admin_base import ReadOnlyModelAdmin
from mpesa_integration import admin_bulk, admin_reconciliation, admin_reversals  # noqa: F401  (registers them)
from mpesa_integration.models import CallbackLog, MPesaTransaction


class CallbackLogInline(admin.TabularInline):
    model = CallbackLog
    fields = ["kind", "outcome", "detail", "received_at", "processed_at", "body_sha256"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MPesaTransaction)
class MPesaTransactionAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "kind", "group", "member", "phone", "amount", "purpose", "status", "settlement",
                    "receipt_number", "created_at"]  # fmt: skip
    list_filter = ["kind", "status", "purpose", "settlement"]
    search_fields = ["receipt_number", "checkout_request_id", "originator_conversation_id", "phone",
                     "account_reference"]  # fmt: skip
    raw_id_fields = ["group", "member", "initiated_by", "contribution", "loan", "fine", "journal_entry"]
    inlines = [CallbackLogInline]


@admin.register(CallbackLog)
class CallbackLogAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "kind", "correlation_id", "outcome", "remote_addr", "received_at", "processed_at"]
    list_filter = ["kind", "outcome"]
    search_fields = ["correlation_id", "body_sha256"]
    raw_id_fields = ["transaction"]
