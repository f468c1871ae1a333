"""Django admin for every groups model: list columns, search and filters."""

from django.contrib import admin

from groups.models import ChamaGroup, GroupGoal, GroupInvitation, GroupMessage, GroupOfficial, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["member_number", "user", "role", "status", "joined_at"]
    readonly_fields = ["joined_at"]
    raw_id_fields = ["user"]
    show_change_link = True


@admin.register(ChamaGroup)
class ChamaGroupAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "code",
        "group_type",
        "contribution_amount",
        "contribution_frequency",
        "is_active",
        "created_at",
    ]
    search_fields = ["name", "code", "description"]
    list_filter = ["group_type", "contribution_frequency", "loan_interest_method", "is_active"]
    readonly_fields = ["created_at", "updated_at"]
    raw_id_fields = ["created_by"]
    date_hierarchy = "created_at"
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["group", "member_number", "user", "role", "status", "joined_at", "exited_at"]
    search_fields = ["group__name", "group__code", "user__first_name", "user__last_name", "user__phone_number"]
    list_filter = ["role", "status"]
    list_select_related = ["group", "user"]
    raw_id_fields = ["group", "user", "invited_by"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(GroupInvitation)
class GroupInvitationAdmin(admin.ModelAdmin):
    list_display = ["phone_number", "group", "role", "status", "expires_at", "responded_at", "created_at"]
    search_fields = ["phone_number", "group__name", "group__code"]
    list_filter = ["status", "role"]
    list_select_related = ["group"]
    raw_id_fields = ["group", "invited_by"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(GroupOfficial)
class GroupOfficialAdmin(admin.ModelAdmin):
    list_display = ["group", "position", "membership", "term_start", "term_end", "is_current"]
    search_fields = ["group__name", "membership__user__first_name", "membership__user__last_name"]
    list_filter = ["position", "is_current"]
    list_select_related = ["group", "membership__user"]
    raw_id_fields = ["group", "membership", "appointed_by"]


@admin.register(GroupGoal)
class GroupGoalAdmin(admin.ModelAdmin):
    list_display = ["title", "group", "target_amount", "start_date", "target_date", "status"]
    search_fields = ["title", "description", "group__name"]
    list_filter = ["status"]
    list_select_related = ["group"]
    raw_id_fields = ["group", "created_by"]


@admin.register(GroupMessage)
class GroupMessageAdmin(admin.ModelAdmin):
    list_display = ["group", "user", "short_content", "is_edited", "created_at"]
    search_fields = ["content", "group__name", "user__first_name", "user__last_name", "user__phone_number"]
    list_filter = ["is_edited"]
    list_select_related = ["group", "user"]
    raw_id_fields = ["group", "user"]

    @admin.display(description="content")
    def short_content(self, obj: GroupMessage) -> str:
        return obj.content[:80]
