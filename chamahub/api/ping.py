"""GET /api/v1/ping/ — the bare authenticated DRF endpoint: the benchmark's baseline, and a token check for clients."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


class PingView(APIView):
    @extend_schema(
        operation_id="ping",
        responses={
            200: inline_serializer("Pong", {"pong": serializers.BooleanField(), "user": serializers.IntegerField()})
        },
    )
    def get(self, request):
        return Response({"pong": True, "user": request.user.pk})
