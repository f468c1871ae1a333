"""
Reads for accounts. Scoping rule for users: staff see everyone; anyone else sees only themselves.

accounts sits below groups and must not look at memberships, so co-members of a group are listed by
groups (GET /api/v1/groups/chama-groups/{id}/members/), not here.
"""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import PasswordResetToken, User
from accounts.phones import InvalidPhoneNumber, normalize_phone
from chamahub.exceptions import NotFound


def user_list(*, viewer: User) -> QuerySet[User]:
    """Users `viewer` may see: all of them for staff, only the viewer otherwise."""
    queryset = User.objects.all()
    if not viewer.is_staff:
        queryset = queryset.filter(pk=viewer.pk)
    return queryset


def user_get(*, viewer: User, user_id: int) -> User:
    """One user `viewer` may see; anyone else answers 404 as if they did not exist."""
    user = user_list(viewer=viewer).filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found.")
    return user


def user_find_for_password_reset(*, email: str | None = None, phone_number: str | None = None) -> User | None:
    """The active user a reset request names (by email, case-insensitive, or by phone in any form), or None."""
    users = User.objects.filter(is_active=True)
    if email:
        return users.filter(email__iexact=email.strip()).first()
    if phone_number:
        try:
            return users.filter(phone_number=normalize_phone(phone_number)).first()
        except InvalidPhoneNumber:
            return None
    return None


def password_reset_token_get_usable(*, token: str) -> PasswordResetToken | None:
    """The unused, unexpired reset token whose hash matches `token` (for an active user), or None."""
    if not token:
        return None
    found = (
        PasswordResetToken.objects.select_related("user")
        .filter(token_hash=PasswordResetToken.hash_token(token), user__is_active=True)
        .first()
    )
    return found if found is not None and found.is_usable else None
