"""
Writes for accounts: registration, profile updates, deactivation, passwords, password reset, JWT revocation.

Every service validates everything before writing and raises ValidationFailed with field messages, so a
refused request writes nothing. Token revocation has two halves (see tokens_revoke_all):
- access tokens: SIMPLE_JWT["CHECK_REVOKE_TOKEN"] makes every token carry a hash of the password hash, which
  JWTAuthentication compares with the user's current one, so a password change rejects older access tokens;
- refresh tokens: every outstanding refresh token of the user is blacklisted (the refresh view also checks
  the password-hash claim, so a token minted concurrently with the change cannot survive it).
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.base_user import BaseUserManager
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.exceptions import PasswordResetTokenInvalid, TokenInvalid
from accounts.models import PasswordResetToken, User
from accounts.phones import InvalidPhoneNumber, normalize_phone  # re-exported for other apps
from accounts.selectors import user_find_for_password_reset
from chamahub import events
from chamahub.exceptions import PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)

MINIMUM_AGE_YEARS = 18
KRA_PIN_RE = re.compile(r"^[AP]\d{9}[A-Z]$")
ID_NUMBER_RE = re.compile(r"^[A-Z0-9]{5,20}$")

PROFILE_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "phone_number",
    "id_number",
    "kra_pin",
    "date_of_birth",
    "address",
)
STAFF_ONLY_FIELDS = ("is_active", "is_staff")


# --- validation helpers (shared by registration and profile updates) ------------------------------


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(first if len(errors) == 1 else "Invalid input.", fields=errors)


def _clean_phone(value: Any, *, errors: dict[str, list[str]], exclude_pk: int | None = None) -> str | None:
    try:
        phone = normalize_phone(value)
    except InvalidPhoneNumber as exc:
        errors["phone_number"] = [str(exc)]
        return None
    taken = User.objects.filter(phone_number=phone)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        errors["phone_number"] = ["A user with this phone number already exists."]
    return phone


def _clean_email(value: str | None, *, errors: dict[str, list[str]], exclude_pk: int | None = None) -> str | None:
    """Emails are optional, stored lower-case, and unique case-insensitively."""
    email = BaseUserManager.normalize_email((value or "").strip()).lower() or None
    if email is None:
        return None
    taken = User.objects.filter(email__iexact=email)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        errors["email"] = ["A user with this email already exists."]
    return email


def _clean_date_of_birth(value: date | None, *, errors: dict[str, list[str]]) -> date | None:
    """Members must be adults (18+): chamas lend and sign agreements, which minors cannot do."""
    if value is None:
        return None
    today = timezone.localdate()
    if value > today:
        errors["date_of_birth"] = ["Date of birth cannot be in the future."]
    elif value.year < 1900:
        errors["date_of_birth"] = ["Enter a real date of birth."]
    else:
        age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
        if age < MINIMUM_AGE_YEARS:
            errors["date_of_birth"] = [f"Members must be at least {MINIMUM_AGE_YEARS} years old."]
    return value


def _clean_kra_pin(value: str, *, errors: dict[str, list[str]]) -> str:
    pin = (value or "").strip().upper()
    if pin and not KRA_PIN_RE.match(pin):
        errors["kra_pin"] = ["Enter a valid KRA PIN: a letter (A or P), 9 digits and a letter, e.g. A123456789B."]
    return pin


def _clean_id_number(value: str, *, errors: dict[str, list[str]]) -> str:
    id_number = "".join((value or "").split()).upper()
    if id_number and not ID_NUMBER_RE.match(id_number):
        errors["id_number"] = ["Enter a valid ID or passport number: 5 to 20 letters and digits."]
    return id_number


def _check_password(password: str, *, user: User, field: str, errors: dict[str, list[str]]) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        errors[field] = list(exc.messages)


def _save_unique(user: User, **save_kwargs: Any) -> None:
    """Save; a concurrent request that took the same phone/email turns into a field error, not a 500."""
    try:
        with transaction.atomic():
            user.save(**save_kwargs)
    except IntegrityError as exc:
        if User.objects.filter(phone_number=user.phone_number).exclude(pk=user.pk).exists():
            raise ValidationFailed(fields={"phone_number": ["A user with this phone number already exists."]}) from exc
        raise ValidationFailed(fields={"email": ["A user with this email already exists."]}) from exc


# --- JWT ------------------------------------------------------------------------------------------


def token_pair_issue(*, user: User) -> dict[str, str]:
    """A new {refresh, access} pair for `user` (the refresh token is recorded as outstanding)."""
    refresh = RefreshToken.for_user(user)
    return {"refresh": str(refresh), "access": str(refresh.access_token)}


def tokens_revoke_all(*, user: User) -> int:
    """Blacklist every unexpired outstanding refresh token of `user`. Returns how many were newly blacklisted."""
    outstanding = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    ).only("id")
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(created)


def refresh_token_revoke(*, user: User, refresh: str) -> None:
    """Logout: blacklist one refresh token, which must be a valid one belonging to `user`."""
    try:
        token = RefreshToken(refresh)
        if str(token.get(jwt_settings.USER_ID_CLAIM)) != str(user.pk):
            raise TokenError("Token does not belong to you.")
        token.blacklist()
    except TokenError as exc:
        raise TokenInvalid(str(exc), fields={"refresh": [str(exc)]}) from exc


# --- registration and profile ---------------------------------------------------------------------


@transaction.atomic
def user_register(
    *,
    phone_number: str,
    password: str,
    email: str | None = None,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create an account (phone is the login; email optional). Publishes user.registered."""
    errors: dict[str, list[str]] = {}
    phone = _clean_phone(phone_number, errors=errors)
    email = _clean_email(email, errors=errors)
    user = User(
        phone_number=phone or "",
        email=email,
        first_name=(first_name or "").strip(),
        last_name=(last_name or "").strip(),
    )
    _check_password(password, user=user, field="password", errors=errors)
    _raise_if(errors)
    user.set_password(password)
    user.full_clean(validate_unique=False)
    _save_unique(user)
    events.publish("user.registered", {"user_id": user.pk})
    return user


@transaction.atomic
def user_update(*, user: User, actor: User, **fields: Any) -> User:
    """
    Update a profile. Anyone may edit their own PROFILE_FIELDS; staff may edit anyone's and also set
    is_active / is_staff. Deactivating a user revokes their tokens.
    """
    if actor.pk != user.pk and not actor.is_staff:
        raise PermissionDenied()
    unknown = set(fields) - set(PROFILE_FIELDS) - set(STAFF_ONLY_FIELDS)
    if unknown:
        raise ValidationFailed(fields={name: ["This field cannot be changed."] for name in sorted(unknown)})
    if not actor.is_staff and set(fields) & set(STAFF_ONLY_FIELDS):
        raise PermissionDenied(fields={name: ["Only staff may change this field."] for name in STAFF_ONLY_FIELDS})

    user = User.objects.select_for_update().get(pk=user.pk)
    was_active = user.is_active
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "phone_number":
            cleaned[name] = _clean_phone(value, errors=errors, exclude_pk=user.pk)
        elif name == "email":
            cleaned[name] = _clean_email(value, errors=errors, exclude_pk=user.pk)
        elif name == "date_of_birth":
            cleaned[name] = _clean_date_of_birth(value, errors=errors)
        elif name == "kra_pin":
            cleaned[name] = _clean_kra_pin(value, errors=errors)
        elif name == "id_number":
            cleaned[name] = _clean_id_number(value, errors=errors)
        elif name in ("first_name", "last_name", "address"):
            cleaned[name] = (value or "").strip()
        else:
            cleaned[name] = bool(value)
    _raise_if(errors)
    for name, value in cleaned.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"], validate_unique=False)
    _save_unique(user)
    if was_active and not user.is_active:
        tokens_revoke_all(user=user)
        events.publish("user.deactivated", {"user_id": user.pk, "by_user_id": actor.pk})
    return user


@transaction.atomic
def user_deactivate(*, user: User, actor: User) -> User:
    """Deactivate an account (never deleted: its ledger history stays). Self or staff only."""
    if actor.pk != user.pk and not actor.is_staff:
        raise PermissionDenied()
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active", "updated_at"])
        events.publish("user.deactivated", {"user_id": user.pk, "by_user_id": actor.pk})
    tokens_revoke_all(user=user)
    return user


# --- passwords ------------------------------------------------------------------------------------


def _password_set_and_revoke(user: User, new_password: str, *, via: str) -> None:
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    tokens_revoke_all(user=user)
    events.publish("user.password_changed", {"user_id": user.pk, "via": via})


@transaction.atomic
def password_change(*, user: User, current_password: str, new_password: str) -> dict[str, str]:
    """
    Change the password, revoke every older access and refresh token, and return a fresh token pair
    (so the device that made the change stays signed in).
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    errors: dict[str, list[str]] = {}
    if not user.check_password(current_password):
        errors["current_password"] = ["Current password is incorrect."]
    elif current_password == new_password:
        errors["new_password"] = ["The new password must be different from the current one."]
    else:
        _check_password(new_password, user=user, field="new_password", errors=errors)
    _raise_if(errors)
    _password_set_and_revoke(user, new_password, via="change")
    return token_pair_issue(user=user)


@dataclass(frozen=True)
class PasswordResetIssued:
    """What password_reset_request created. `token` is the raw secret: deliver it, never store or log it."""

    user_id: int
    token: str
    expires_at: datetime


def _password_reset_deliver(*, user_id: int, token: str, ttl_minutes: int) -> None:
    """Runs after commit. Email when the user has one; SMS is not wired up yet. Never raises."""
    user = User.objects.filter(pk=user_id).only("pk", "email", "first_name").first()
    if user is None:
        return
    if not user.email:
        logger.warning(
            "Password reset requested for user %s, who has no email; SMS delivery is not configured yet.", user_id
        )
        return
    frontend_url = getattr(settings, "FRONTEND_URL", "http://localhost:5173").rstrip("/")
    # The legacy web client's route is /reset-password/{uid}/{token}/; uid is only for its sake.
    link = f"{frontend_url}/reset-password/{urlsafe_base64_encode(force_bytes(user.pk))}/{token}/"
    body = (
        f"Hello {user.first_name or 'there'},\n\n"
        f"Use this link to choose a new ChamaHub password (valid for {ttl_minutes} minutes, once):\n{link}\n\n"
        f"Or enter this reset code in the app: {token}\n\n"
        "If you did not ask for this, ignore this message: your password has not changed."
    )
    try:
        send_mail("Reset your ChamaHub password", body, None, [user.email])
    except Exception:
        logger.exception("Could not send the password reset email to user %s.", user_id)


@transaction.atomic
def password_reset_request(*, email: str | None = None, phone_number: str | None = None) -> PasswordResetIssued | None:
    """
    Issue a one-time reset token for the active user with this email or phone number, invalidating their
    older unused tokens, and deliver it after commit. Returns None (and sends nothing) for an unknown user;
    callers must answer identically either way so the endpoint does not reveal who has an account.
    """
    user = user_find_for_password_reset(email=email, phone_number=phone_number)
    if user is None:
        logger.info("Password reset requested for an unknown or inactive account.")
        return None
    now = timezone.now()
    ttl_minutes = settings.PASSWORD_RESET_TOKEN_TTL_MINUTES
    PasswordResetToken.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
    raw = secrets.token_urlsafe(32)
    reset_token = PasswordResetToken(
        user=user, token_hash=PasswordResetToken.hash_token(raw), expires_at=now + timedelta(minutes=ttl_minutes)
    )
    reset_token.full_clean()
    reset_token.save()
    transaction.on_commit(
        partial(_password_reset_deliver, user_id=user.pk, token=raw, ttl_minutes=ttl_minutes), robust=True
    )
    return PasswordResetIssued(user_id=user.pk, token=raw, expires_at=reset_token.expires_at)


@transaction.atomic
def password_reset_confirm(*, token: str, new_password: str) -> User:
    """
    Spend a reset token (once: the row is locked, then marked used) and set the new password, revoking every
    older access and refresh token. A used, expired or unknown token answers 400 on "token". A password the
    validators refuse writes nothing and leaves the token usable.
    """
    now = timezone.now()
    reset_token = (
        PasswordResetToken.objects.select_for_update()
        .filter(token_hash=PasswordResetToken.hash_token(token or ""))
        .first()
    )
    if reset_token is None or not reset_token.is_usable:
        raise PasswordResetTokenInvalid(fields={"token": [PasswordResetTokenInvalid.default_message]})
    user = User.objects.select_for_update().get(pk=reset_token.user_id)
    if not user.is_active:
        raise PasswordResetTokenInvalid(fields={"token": [PasswordResetTokenInvalid.default_message]})
    errors: dict[str, list[str]] = {}
    _check_password(new_password, user=user, field="new_password", errors=errors)
    _raise_if(errors)
    PasswordResetToken.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
    _password_set_and_revoke(user, new_password, via="reset")
    return user
