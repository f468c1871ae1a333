"""Domain errors. Services raise these; the API exception handler maps them to 4xx responses."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the operation. `fields` maps a field name to its messages."""

    code = "invalid"
    status_code = 400
    default_message = "The request was refused."

    def __init__(
        self, message: str | None = None, *, fields: dict[str, list[str] | str] | None = None, code: str | None = None
    ) -> None:
        self.message = message or self.default_message
        self.fields = {k: ([v] if isinstance(v, str) else list(v)) for k, v in (fields or {}).items()}
        if code:
            self.code = code
        super().__init__(self.message)


class ValidationFailed(DomainError):
    code = "invalid"
    status_code = 400


class PermissionDenied(DomainError):
    code = "permission_denied"
    status_code = 403
    default_message = "You do not have permission to perform this action."


class NotFound(DomainError):
    code = "not_found"
    status_code = 404
    default_message = "Not found."


class Conflict(DomainError):
    code = "conflict"
    status_code = 409
    default_message = "The request conflicts with the current state."
