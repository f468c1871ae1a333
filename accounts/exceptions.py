"""Errors raised by the accounts services; the API exception handler renders them as {code, message, fields}."""

from __future__ import annotations

from chamahub.exceptions import DomainError, ValidationFailed


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status_code = 401
    default_message = "No active account found with the given credentials."


class TokenInvalid(ValidationFailed):
    """A refresh token sent to logout is malformed, expired, blacklisted or someone else's."""

    code = "token_invalid"
    default_message = "Token is invalid or expired."


class PasswordResetTokenInvalid(ValidationFailed):
    code = "reset_token_invalid"
    default_message = "This reset token is invalid, expired or already used."
