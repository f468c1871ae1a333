"""
Admin base classes shared by the apps. Rows that only services may write (ledger postings, loans, outbox
events...) are shown read-only: a change made in the admin would skip the ledger and the events.
"""

from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """No add, change or delete."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyTabularInline(admin.TabularInline):
    """An inline that only lists its rows: every field read-only, no add, change or delete."""

    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields or super().get_readonly_fields(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
