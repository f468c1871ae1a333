"""
API shapes for accounts. Output: UserSerializer (the legacy web client's user object). Input: one
<Entity><Verb>InputSerializer per write; they check shape only, the services own the rules.
"""

from __future__ import annotations

from django.contrib.auth import password_validation
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import User


class UserSerializer(serializers.ModelSerializer):
    """The user object returned by register, users/me and users/{id}."""

    full_name = serializers.CharField(read_only=True)
    kyc_verified = serializers.BooleanField(read_only=True)
    is_kyc_complete = serializers.BooleanField(read_only=True)
    profile_picture = serializers.SerializerMethodField(
        help_text="Always null for now: profile pictures and KYC documents are uploaded by the KYC app (later)."
    )
    credit_score = serializers.SerializerMethodField(
        help_text="Always null for now: computed by the credit-scoring app (later). Kept for legacy clients."
    )

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "full_name",
            "phone_number",
            "id_number",
            "kra_pin",
            "kyc_status",
            "kyc_verified",
            "kyc_verified_at",
            "is_kyc_complete",
            "profile_picture",
            "credit_score",
            "date_of_birth",
            "address",
            "is_active",
            "is_staff",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_profile_picture(self, obj: User) -> str | None:
        return None

    @extend_schema_field(serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True))
    def get_credit_score(self, obj: User) -> str | None:
        return None


class TokenPairSerializer(serializers.Serializer):
    refresh = serializers.CharField()
    access = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class _PasswordPairMixin:
    """new_password + new_password_confirm must match (the validators themselves run in the service)."""

    confirm_pairs: tuple[tuple[str, str], ...] = (("new_password", "new_password_confirm"),)

    def validate(self, attrs):
        for field, confirm in self.confirm_pairs:
            if attrs.get(field) != attrs.get(confirm):
                raise serializers.ValidationError({confirm: ["Passwords do not match."]})
        return attrs


def _password_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        max_length=128,
        style={"input_type": "password"},
        help_text=kwargs.pop("help_text", None) or " ".join(password_validation.password_validators_help_texts()),
        **kwargs,
    )


class UserRegisterInputSerializer(_PasswordPairMixin, serializers.Serializer):
    confirm_pairs = (("password", "password_confirm"),)

    phone_number = serializers.CharField(
        max_length=32, help_text="Kenyan number in any common form (0712345678, +254 712 345 678) or E.164."
    )
    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True, max_length=254)
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    password = _password_field()
    password_confirm = _password_field(help_text="Must equal password.")


class UserRegisterResponseSerializer(serializers.Serializer):
    user = UserSerializer()
    tokens = TokenPairSerializer()


class UserUpdateInputSerializer(serializers.Serializer):
    """Fields a user may change on their own profile. PUT requires phone_number, first_name and last_name."""

    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True, max_length=254)
    first_name = serializers.CharField(max_length=150)
    last_name = serializers.CharField(max_length=150)
    phone_number = serializers.CharField(max_length=32)
    id_number = serializers.CharField(max_length=20, required=False, allow_blank=True)
    kra_pin = serializers.CharField(max_length=20, required=False, allow_blank=True)
    date_of_birth = serializers.DateField(
        required=False, allow_null=True, help_text="Not in the future; members must be at least 18."
    )
    address = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class UserStaffUpdateInputSerializer(UserUpdateInputSerializer):
    """Staff may also (de)activate accounts and grant or remove staff rights."""

    is_active = serializers.BooleanField(required=False)
    is_staff = serializers.BooleanField(required=False)


class PasswordChangeInputSerializer(_PasswordPairMixin, serializers.Serializer):
    current_password = _password_field(help_text="The password in use now.")
    new_password = _password_field()
    new_password_confirm = _password_field(help_text="Must equal new_password.")


class PasswordChangeResponseSerializer(serializers.Serializer):
    message = serializers.CharField()
    timestamp = serializers.DateTimeField()
    tokens = TokenPairSerializer(help_text="A fresh pair: every token issued before the change is revoked.")


class LogoutInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(help_text="The refresh token to revoke.")


class PasswordResetRequestInputSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    phone_number = serializers.CharField(required=False, allow_blank=True, max_length=32)

    def validate(self, attrs):
        if not attrs.get("email") and not attrs.get("phone_number"):
            raise serializers.ValidationError({"email": ["Send email or phone_number."]})
        return attrs


class PasswordResetRequestResponseSerializer(serializers.Serializer):
    message = serializers.CharField()
    expires_in_minutes = serializers.IntegerField()
    token = serializers.CharField(
        required=False, help_text="Only when the server runs with DEBUG on and the account exists (development aid)."
    )


class PasswordResetTokenInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=200)
    uid = serializers.CharField(required=False, allow_blank=True, help_text="Accepted for old clients and ignored.")


class PasswordResetTokenStatusSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    expires_at = serializers.DateTimeField(allow_null=True)


class PasswordResetConfirmInputSerializer(_PasswordPairMixin, PasswordResetTokenInputSerializer):
    new_password = _password_field()
    new_password_confirm = _password_field(help_text="Must equal new_password.")
