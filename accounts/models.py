"""The ChamaHub user: logs in with a phone number (E.164) or email."""

from __future__ import annotations

import hashlib

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from accounts.phones import normalize_phone


class KYCStatus(models.TextChoices):
    UNVERIFIED = "UNVERIFIED", "Unverified"
    PENDING = "PENDING", "Pending review"
    VERIFIED = "VERIFIED", "Verified"
    REJECTED = "REJECTED", "Rejected"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, phone_number: str, password: str | None, **extra):
        phone_number = normalize_phone(phone_number)
        email = extra.pop("email", None)
        email = self.normalize_email(email).lower() if email else None
        user = self.model(phone_number=phone_number, email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, phone_number: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(phone_number, password, **extra)

    def create_superuser(self, phone_number: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(phone_number, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Phone number (E.164, unique) is the login; email is optional but unique when set."""

    phone_number = models.CharField(max_length=16, unique=True)
    email = models.EmailField(max_length=254, unique=True, null=True, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    id_number = models.CharField("national ID number", max_length=20, blank=True)
    kra_pin = models.CharField(max_length=20, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    address = models.TextField(blank=True)
    kyc_status = models.CharField(max_length=12, choices=KYCStatus.choices, default=KYCStatus.UNVERIFIED)
    kyc_verified_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "phone_number"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.get_full_name() or self.phone_number

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.phone_number

    @property
    def full_name(self) -> str:
        return self.get_full_name() or (self.email or self.phone_number)

    @property
    def kyc_verified(self) -> bool:
        return self.kyc_status == KYCStatus.VERIFIED

    @property
    def is_kyc_complete(self) -> bool:
        return bool(self.id_number and self.kra_pin and self.date_of_birth)


class PasswordResetToken(models.Model):
    """A one-time password-reset token. Only its SHA-256 is stored; it expires and is used once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_reset_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "created_at"], name="pwreset_user_created_idx")]

    def __str__(self) -> str:
        return f"reset token for {self.user_id}"

    @staticmethod
    def hash_token(raw: str) -> str:
        """The SHA-256 hex digest stored in `token_hash`; the raw token itself is never stored."""
        return hashlib.sha256(raw.encode()).hexdigest()

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()
