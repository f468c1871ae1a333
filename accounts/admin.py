"""Django admin for accounts: the custom user (phone login) and password-reset tokens (read-only)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.contrib.auth.forms import UserCreationForm as DjangoUserCreationForm

from accounts.models import PasswordResetToken, User
from accounts.phones import InvalidPhoneNumber, normalize_phone


class _PhoneEmailCleanMixin:
    """Admin forms store phones in E.164 and emails lower-case, like the API, so uniqueness holds either way."""

    def clean_phone_number(self):
        try:
            return normalize_phone(self.cleaned_data.get("phone_number") or "")
        except InvalidPhoneNumber as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_email(self):
        email = (self.cleaned_data.get("email") or "").strip().lower() or None
        if email and User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("A user with this email already exists.")
        return email


class UserCreationForm(_PhoneEmailCleanMixin, DjangoUserCreationForm):
    class Meta:
        model = User
        fields = ("phone_number", "email", "first_name", "last_name")


class UserChangeForm(_PhoneEmailCleanMixin, DjangoUserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ("-created_at",)
    list_display = ("phone_number", "email", "first_name", "last_name", "kyc_status", "is_active", "is_staff")
    list_filter = ("kyc_status", "is_staff", "is_active", "is_superuser")
    search_fields = ("phone_number", "email", "first_name", "last_name", "id_number")
    readonly_fields = ("last_login", "date_joined", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("phone_number", "password")}),
        ("Personal", {"fields": ("first_name", "last_name", "email", "date_of_birth", "address")}),
        ("KYC", {"fields": ("id_number", "kra_pin", "kyc_status", "kyc_verified_at")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("phone_number", "email", "first_name", "last_name", "password1", "password2"),
            },
        ),
    )


@admin.register(PasswordResetToken)
class PasswordResetTokenAdmin(admin.ModelAdmin):
    """Read-only: tokens are issued by the reset service; only their hashes are stored."""

    list_display = ("user", "created_at", "expires_at", "used_at")
    list_filter = ("used_at", "expires_at")
    search_fields = ("user__phone_number", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("user", "token_hash", "created_at", "expires_at", "used_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
