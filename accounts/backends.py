"""Authenticate by phone number (any common Kenyan form) or by email."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from accounts.models import User
from accounts.phones import InvalidPhoneNumber, normalize_phone


def user_find_by_login(login: str) -> User | None:
    login = (login or "").strip()
    if not login:
        return None
    if "@" in login:
        return User.objects.filter(email__iexact=login).first()
    try:
        return User.objects.filter(phone_number=normalize_phone(login)).first()
    except InvalidPhoneNumber:
        return None


class PhoneOrEmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        login = username or kwargs.get("phone_number") or kwargs.get("email")
        if not login or password is None:
            return None
        user = user_find_by_login(login)
        if user is None:
            User().set_password(password)  # equalise timing with the found-user path
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
