"""
One error body for every 4xx and 5xx:

    {"code": "invalid", "message": "Human readable summary.", "fields": {"amount": ["Must be positive."]}}

`fields` is present (possibly empty) on every error; non-field errors are under "non_field_errors".
"""

from __future__ import annotations

import logging

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from chamahub.exceptions import DomainError

logger = logging.getLogger(__name__)


def _join(prefix: str, key) -> str:
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        return f"{prefix}[{key}]"  # an item of a list: legs[1].amount
    return f"{prefix}.{key}" if prefix else str(key)


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF error detail (nested dicts/lists) -> {"legs[1].amount": ["A valid number is required."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            out.update(_flatten(value, _join(prefix, key)))
    elif isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        for index, item in enumerate(detail):
            out.update(_flatten(item, _join(prefix, index)))
    elif isinstance(detail, list):
        if detail:
            out[prefix or "non_field_errors"] = [str(v) for v in detail]
    elif detail is not None:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _summary(fields: dict[str, list[str]]) -> str:
    """The message of a validation error: the only message there is, else a generic summary."""
    messages = [m for ms in fields.values() for m in ms]
    return messages[0] if len(messages) == 1 else "Invalid input."


def _body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            fields = {("non_field_errors" if k == NON_FIELD_ERRORS else k): v for k, v in exc.message_dict.items()}
        else:
            fields = {"non_field_errors": exc.messages}
        return Response(_body("invalid", _summary(fields), fields), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: let Django log it and return the JSON 500 below
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        response.data = _body("invalid", _summary(fields), fields)
    else:
        response.data = _body(*_code_and_message(exc))
    return response


def _code_and_message(exc) -> tuple[str, str, dict]:
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    default_code = getattr(exc, "default_code", "error")
    if isinstance(detail, dict) and "detail" in detail:
        # simplejwt's InvalidToken: {"detail": ..., "code": "token_not_valid", "messages": [...]}
        return str(detail.get("code") or default_code), str(detail["detail"]), {}
    if isinstance(detail, dict):
        return str(default_code), "Request failed.", _flatten(detail)
    if isinstance(detail, list):
        messages = [str(m) for m in detail]
        return str(default_code), " ".join(messages) or "Request failed.", {}
    return str(getattr(detail, "code", None) or default_code), str(detail), {}


def json_404(request, exception=None):
    return JsonResponse(_body("not_found", "Not found."), status=404)


def json_500(request):
    return JsonResponse(_body("server_error", "Internal server error."), status=500)


def json_400(request, exception=None):
    return JsonResponse(_body("bad_request", "Bad request."), status=400)


def json_403(request, exception=None):
    return JsonResponse(_body("permission_denied", "Permission denied."), status=403)
