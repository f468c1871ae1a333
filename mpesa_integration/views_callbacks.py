"""
Daraja's callbacks (no JWT; an unguessable per-deployment secret in the path, compared in constant time; an optional
allowlist of Safaricom's IPs). Each view: check the secret (404 if wrong), check the source IP when the allowlist is
on, validate the body against the callback's strict shape (400 + logged when malformed, never a 500), store it in the
append-only CallbackLog, answer 200 {"ResultCode": 0, "ResultDesc": "Accepted"} and process it after commit.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from mpesa_integration.choices import CallbackKind, CallbackOutcome
from mpesa_integration.serializers_callbacks import AsyncResultSerializer, C2BSerializer, StkCallbackSerializer
from mpesa_integration.services import callbacks

logger = logging.getLogger("mpesa_integration")

ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


def secret_valid(given: str) -> bool:
    secrets = [settings.MPESA_CALLBACK_SECRET, *settings.MPESA_CALLBACK_PREVIOUS_SECRETS]
    ok = False
    for secret in secrets:  # compare with every secret (constant time each), so timing says nothing
        ok |= bool(secret) and hmac.compare_digest(given.encode(), secret.encode())
    return ok


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or the X-Forwarded-For entry MPESA_TRUSTED_PROXY_HOPS from the right behind trusted proxies."""
    hops = settings.MPESA_TRUSTED_PROXY_HOPS
    if hops:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                return None
    return request.META.get("REMOTE_ADDR")


def _error(message: str, fields: dict | None = None, code: str = "invalid", http: int = 400) -> Response:
    return Response({"code": code, "message": message, "fields": fields or {}}, status=http)


class CallbackView(APIView):
    """Base: subclasses set `kind`, `serializer_class` and how to read the correlation id."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    kind: str = ""
    serializer_class = StkCallbackSerializer
    reply = ACCEPTED

    def correlation_id(self, data: dict) -> str:
        return ""

    def respond(self, log, data: dict) -> Response:
        transaction.on_commit(lambda: _process(log.id, self.kind))
        return Response(self.reply)

    @extend_schema(exclude=True)
    def post(self, request, secret: str):
        if not secret_valid(secret):
            return _error("Not found.", code="not_found", http=status.HTTP_404_NOT_FOUND)
        raw = request.body
        body = callbacks.parse_json_body(raw)
        remote = client_ip(request)

        def refuse(outcome: str, detail: str, response: Response) -> Response:
            """Log what was refused (append-only, like every callback) and answer with `response`."""
            callbacks.callback_log_store(
                kind=self.kind, raw=raw, body=body, remote_addr=remote, outcome=outcome, detail=detail
            )
            return response

        if settings.MPESA_IP_ALLOWLIST_ENABLED and remote not in settings.MPESA_IP_ALLOWLIST:
            logger.warning("mpesa.callback_forbidden kind=%s remote=%s", self.kind, remote)
            forbidden = _error("Source not allowed.", code="permission_denied", http=status.HTTP_403_FORBIDDEN)
            return refuse(CallbackOutcome.FORBIDDEN, f"source {remote} is not on the allowlist", forbidden)
        if body is None:
            malformed = _error("The body must be a JSON object.", {"body": ["Malformed JSON."]})
            return refuse(CallbackOutcome.INVALID, "body is not a JSON object", malformed)
        serializer = self.serializer_class(data=body)
        if not serializer.is_valid():
            wrong_shape = _error("The callback does not have the expected shape.", serializer.errors)
            return refuse(CallbackOutcome.INVALID, str(serializer.errors)[:255], wrong_shape)
        with transaction.atomic():
            log = callbacks.callback_log_store(
                kind=self.kind,
                raw=raw,
                body=body,
                remote_addr=remote,
                correlation_id=self.correlation_id(serializer.validated_data),
            )
            return self.respond(log, serializer.validated_data)


def _process(log_id: int, kind: str) -> None:
    """Start processing; whatever happens, Daraja already has its 200 (a failed start is retried by the sweep)."""
    from mpesa_integration.tasks import callback_process_task

    try:
        callback_process_task.delay(log_id, kind)
    except Exception:  # the log row is committed: callbacks_retry picks it up
        logger.exception("mpesa.callback_processing_failed log=%s kind=%s", log_id, kind)


class StkCallbackView(CallbackView):
    kind = CallbackKind.STK
    serializer_class = StkCallbackSerializer

    def correlation_id(self, data):
        return data["Body"]["stkCallback"]["CheckoutRequestID"]


class _AsyncResultView(CallbackView):
    serializer_class = AsyncResultSerializer

    def correlation_id(self, data):
        return data["Result"]["OriginatorConversationID"]


class B2CResultView(_AsyncResultView):
    kind = CallbackKind.B2C_RESULT


class B2CTimeoutView(_AsyncResultView):
    kind = CallbackKind.B2C_TIMEOUT


class StatusResultView(_AsyncResultView):
    kind = CallbackKind.STATUS_RESULT


class ReversalResultView(_AsyncResultView):
    kind = CallbackKind.REVERSAL_RESULT


class ReversalTimeoutView(_AsyncResultView):
    kind = CallbackKind.REVERSAL_TIMEOUT


class BalanceResultView(_AsyncResultView):
    kind = CallbackKind.BALANCE_RESULT


class C2BValidationView(CallbackView):
    kind = CallbackKind.C2B_VALIDATION
    serializer_class = C2BSerializer

    def correlation_id(self, data):
        return data["TransID"]

    def respond(self, log, data):
        code, desc = callbacks.c2b_validate(log.body)
        callbacks.callback_log_finish(log, CallbackOutcome.PROCESSED, detail=f"{code} {desc}")
        return Response({"ResultCode": code, "ResultDesc": desc})


class C2BConfirmationView(CallbackView):
    kind = CallbackKind.C2B_CONFIRMATION
    serializer_class = C2BSerializer
    reply = {"ResultCode": 0, "ResultDesc": "Success"}

    def correlation_id(self, data):
        return data["TransID"]


class StatusTimeoutView(_AsyncResultView):
    """A Transaction Status query timed out in Daraja's queue: logged; the next sweep asks again."""

    kind = CallbackKind.STATUS_RESULT

    def respond(self, log, data):
        callbacks.callback_log_finish(log, CallbackOutcome.IGNORED, detail="query timed out in Daraja's queue")
        return Response(self.reply)


class BalanceTimeoutView(StatusTimeoutView):
    """An Account Balance query timed out in Daraja's queue: logged; ask again."""

    kind = CallbackKind.BALANCE_RESULT
