"""JWT endpoints: obtain by phone number or email, rotating refresh, logout (blacklists the refresh token)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenRefreshView

from chamahub.exceptions import DomainError


class TokenObtainInputSerializer(serializers.Serializer):
    phone_number = serializers.CharField(required=False, help_text="Any common form: 0712345678, +254712345678.")
    email = serializers.EmailField(required=False)
    username = serializers.CharField(required=False, help_text="Phone number or email.")
    password = serializers.CharField(write_only=True, style={"input_type": "password"})

    def validate(self, attrs):
        login = attrs.get("phone_number") or attrs.get("email") or attrs.get("username")
        if not login:
            raise serializers.ValidationError({"phone_number": ["Send phone_number or email."]})
        attrs["login"] = login
        return attrs


class TokenPairSerializer(serializers.Serializer):
    refresh = serializers.CharField()
    access = serializers.CharField()


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status_code = 401
    default_message = "No active account found with the given credentials."


def tokens_for_user(user) -> dict[str, str]:
    refresh = RefreshToken.for_user(user)
    return {"refresh": str(refresh), "access": str(refresh.access_token)}


class AuthThrottleMixin:
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class PhoneOrEmailTokenObtainPairView(AuthThrottleMixin, APIView):
    """POST {phone_number|email, password} -> {refresh, access}."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenObtainInputSerializer, responses={200: TokenPairSerializer}, tags=["auth"])
    def post(self, request):
        data = TokenObtainInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, username=data.validated_data["login"], password=data.validated_data["password"])
        if user is None:
            raise InvalidCredentials()
        from django.contrib.auth.models import update_last_login

        update_last_login(None, user)
        return Response(tokens_for_user(user))


class RotatingTokenRefreshView(AuthThrottleMixin, TokenRefreshView):
    """POST {refresh} -> {access, refresh}. The old refresh token is blacklisted (rotation)."""

    @extend_schema(request=TokenRefreshSerializer, responses={200: TokenPairSerializer}, tags=["auth"])
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutInputSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=LogoutInputSerializer,
        responses={200: inline_serializer("LogoutResponse", {"message": serializers.CharField()})},
        tags=["auth"],
    )
    def post(self, request):
        data = LogoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            token = RefreshToken(data.validated_data["refresh"])
            if str(token.get("user_id")) != str(request.user.pk):
                raise TokenError("Token does not belong to you.")
            token.blacklist()
        except TokenError as exc:
            raise DomainError(str(exc), fields={"refresh": [str(exc)]}, code="token_invalid") from exc
        return Response({"message": "Logged out."}, status=status.HTTP_200_OK)
