"""
/api/v1/mpesa/account-balance/ (staff only): GET the balances Daraja last reported for the configured shortcodes;
POST {account: b2c | c2b | stk} to ask again (202; the answer arrives at the balance callback within seconds).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from chamahub.api.serializers import validated
from mpesa_integration.services import balance


class AccountBalanceRequestInputSerializer(serializers.Serializer):
    account = serializers.ChoiceField(choices=["b2c", "c2b", "stk"], default="b2c")


class AccountBalanceView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "AccountBalanceLatest",
            {
                "account": serializers.CharField(),
                "shortcode": serializers.CharField(),
                "accounts": serializers.DictField(allow_null=True, help_text="name -> {currency, available, ...}"),
                "completed_at": serializers.DateTimeField(required=False),
            },
            many=True,
        )
    )
    def get(self, request):
        return Response(balance.account_balance_latest(actor=request.user))

    @extend_schema(
        request=AccountBalanceRequestInputSerializer,
        responses={202: OpenApiResponse(description="{account, shortcode, originator_conversation_id, requested_at}")},
    )
    def post(self, request):
        data = validated(AccountBalanceRequestInputSerializer, request.data)
        return Response(
            balance.account_balance_request(actor=request.user, account=data["account"]),
            status=status.HTTP_202_ACCEPTED,
        )
