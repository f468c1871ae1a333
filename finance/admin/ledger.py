"""
Admin for ledger accounts, journal entries and postings — all read-only.

Posted entries never change: a correction is a reversing entry posted through
finance.services.ledger (journal_entry_reverse), never an edit or a delete here. Accounts are
created by the posting service, and their running balances are kept in step with the postings.
"""

from __future__ import annotations

from django.contrib import admin

from chamahub.admin_base import ReadOnlyModelAdmin, ReadOnlyTabularInline
from finance.models import JournalEntry, LedgerAccount, Posting


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyModelAdmin):
    list_display = ["code", "name", "group", "kind", "account_type", "member", "balance", "natural_balance"]
    list_filter = ["kind", "account_type"]
    search_fields = ["code", "name", "group__name", "group__code", "member__phone_number", "member__last_name"]
    list_select_related = ["group", "member"]
    raw_id_fields = ["group", "member"]

    @admin.display(description="Balance (natural sign)")
    def natural_balance(self, obj: LedgerAccount):
        return obj.normal_balance


class PostingInline(ReadOnlyTabularInline):
    model = Posting
    fields = ["account", "member", "amount", "balance_after", "entry_date", "memo"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account", "member")


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "entry_date", "group", "kind", "description", "reference", "member", "posted_at"]
    list_filter = ["kind", "entry_date"]
    search_fields = ["description", "reference", "group__name", "group__code"]
    list_select_related = ["group", "member"]
    date_hierarchy = "entry_date"
    raw_id_fields = ["group", "member", "created_by", "reverses"]
    inlines = [PostingInline]


@admin.register(Posting)
class PostingAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "entry_date", "group", "account", "member", "amount", "balance_after", "entry"]
    list_filter = ["account__kind", "entry_date"]
    search_fields = ["memo", "entry__description", "entry__reference", "account__code", "group__name"]
    list_select_related = ["group", "account", "member", "entry"]
    raw_id_fields = ["group", "entry", "account", "member"]
