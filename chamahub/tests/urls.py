"""Test-only URLconf: the real routes plus tiny views that fail in each way the error handler must cover."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from chamahub.exceptions import Conflict
from chamahub.urls import urlpatterns as real_urlpatterns

logger = logging.getLogger("chamahub.tests")


class LegSerializer(serializers.Serializer):
    account = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class EntryInputSerializer(serializers.Serializer):
    description = serializers.CharField()
    legs = LegSerializer(many=True)
    meta = serializers.DictField(child=serializers.IntegerField(), required=False)


class ValidateView(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        serializer = EntryInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.data)


class PrivateView(APIView):
    """Needs a token (the project default permission)."""

    def get(self, request):
        return Response({"ok": True})


class ConflictView(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        raise Conflict("Already approved.", fields={"approval": "You approved this loan already."}, code="duplicate")


class ModelRuleView(APIView):
    permission_classes = [AllowAny]

    def post(self, request):
        raise DjangoValidationError({"amount": ["Ensure this value is greater than 0."]})


class BoomView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        logger.warning("about to fail")
        raise RuntimeError("a bug")


def plain_boom(request):
    raise RuntimeError("a bug outside DRF")


urlpatterns = [
    path("api/v1/_test/validate/", ValidateView.as_view()),
    path("api/v1/_test/private/", PrivateView.as_view()),
    path("api/v1/_test/conflict/", ConflictView.as_view()),
    path("api/v1/_test/model-rule/", ModelRuleView.as_view()),
    path("api/v1/_test/boom/", BoomView.as_view()),
    path("_test/plain-boom/", plain_boom),
    *real_urlpatterns,
]

handler400 = "chamahub.api.exceptions.json_400"
handler403 = "chamahub.api.exceptions.json_403"
handler404 = "chamahub.api.exceptions.json_404"
handler500 = "chamahub.api.exceptions.json_500"
