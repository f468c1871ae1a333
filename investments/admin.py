"""
Admin for investments. Read-mostly: principal, value and status move only through transactions (which post
to the ledger), so those fields are read-only here and transactions cannot be added, edited or deleted.
"""

from django.contrib import admin

from chamahub.admin_base import ReadOnlyModelAdmin
from investments.models import Investment, InvestmentTransaction, Portfolio, StockHolding


@admin.register(Portfolio)
class PortfolioAdmin(admin.ModelAdmin):
    list_display = ["name", "group", "is_default", "last_rebalance_date", "created_at"]
    search_fields = ["name", "description", "group__name", "group__code"]
    list_filter = ["is_default"]
    raw_id_fields = ["group"]


@admin.register(Investment)
class InvestmentAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "group",
        "investment_type",
        "principal_amount",
        "current_value",
        "status",
        "purchase_date",
        "maturity_date",
    ]
    search_fields = ["name", "description", "group__name", "group__code"]
    list_filter = ["investment_type", "status", "purchase_date"]
    raw_id_fields = ["group", "portfolio", "created_by"]
    readonly_fields = ["principal_amount", "current_value", "status", "group", "created_by"]
    date_hierarchy = "purchase_date"


@admin.register(StockHolding)
class StockHoldingAdmin(admin.ModelAdmin):
    list_display = [
        "stock_symbol",
        "stock_name",
        "exchange",
        "group",
        "shares_quantity",
        "purchase_price_per_share",
        "current_price_per_share",
        "last_price_update",
    ]
    search_fields = ["stock_symbol", "stock_name", "cdsc_account_number", "group__name"]
    list_filter = ["exchange"]
    raw_id_fields = ["group", "investment"]
    readonly_fields = ["shares_quantity", "investment", "group", "purchase_price_per_share"]


@admin.register(InvestmentTransaction)
class InvestmentTransactionAdmin(ReadOnlyModelAdmin):
    list_display = [
        "id",
        "investment",
        "group",
        "transaction_type",
        "amount",
        "principal_change",
        "income_amount",
        "transaction_date",
        "journal_entry",
    ]
    search_fields = ["investment__name", "reference_number", "notes", "group__name"]
    list_filter = ["transaction_type", "transaction_date"]
    raw_id_fields = ["investment", "group", "journal_entry", "created_by"]
    date_hierarchy = "transaction_date"
