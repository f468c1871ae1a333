"""
JWT endpoints mounted by chamahub.urls at /api/v1/token/ (and /api/token/ for older clients):
obtain by phone number or email, and a strictly single-use rotating refresh.
Logout lives at /api/v1/accounts/users/logout/ (UserViewSet); LogoutView is kept for chamahub.urls.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.utils import get_md5_hash_password
from rest_framework_simplejwt.views import TokenRefreshView

from accounts import services
from accounts.exceptions import InvalidCredentials
from accounts.models import User
from accounts.serializers import LogoutInputSerializer, MessageSerializer, TokenPairSerializer
from chamahub.api.schema import ErrorSerializer

__all__ = [
    "InvalidCredentials",
    "LogoutView",
    "PhoneOrEmailTokenObtainPairView",
    "RotatingTokenRefreshView",
    "tokens_for_user",
]


class TokenObtainInputSerializer(serializers.Serializer):
    phone_number = serializers.CharField(required=False, help_text="Any common form: 0712345678, +254712345678.")
    email = serializers.EmailField(required=False)
    username = serializers.CharField(required=False, help_text="Phone number or email.")
    password = serializers.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})

    def validate(self, attrs):
        login = attrs.get("phone_number") or attrs.get("email") or attrs.get("username")
        if not login:
            raise serializers.ValidationError({"phone_number": ["Send phone_number or email."]})
        attrs["login"] = login
        return attrs


def tokens_for_user(user) -> dict[str, str]:
    """Kept for callers of the earlier helper; use accounts.services.token_pair_issue."""
    return services.token_pair_issue(user=user)


class AuthThrottleMixin:
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class PhoneOrEmailTokenObtainPairView(AuthThrottleMixin, APIView):
    """POST {phone_number|email|username, password} -> {refresh, access}."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenObtainInputSerializer,
        responses={200: TokenPairSerializer, 401: ErrorSerializer, 429: ErrorSerializer},
        tags=["auth"],
    )
    def post(self, request):
        data = TokenObtainInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, username=data.validated_data["login"], password=data.validated_data["password"])
        if user is None:
            raise InvalidCredentials()
        update_last_login(None, user)
        return Response(services.token_pair_issue(user=user))


class RotatingTokenRefreshSerializer(TokenRefreshSerializer):
    """
    simplejwt's refresh, made strict:
    - single use even under concurrency: of two requests presenting the same token, only the one that
      creates its blacklist row gets a new pair;
    - a token issued before the user's latest password change is refused (simplejwt checks the
      password-hash claim on access tokens only);
    - an unknown or inactive user answers 401, not 500.
    """

    def validate(self, attrs):
        refresh = self.token_class(attrs["refresh"])
        user = User.objects.filter(**{jwt_settings.USER_ID_FIELD: refresh.get(jwt_settings.USER_ID_CLAIM)}).first()
        if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(self.error_messages["no_active_account"], "no_active_account")
        if jwt_settings.CHECK_REVOKE_TOKEN and refresh.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
            user.password
        ):
            raise TokenError("The user's password has been changed.")
        _, created = refresh.blacklist()
        if not created:
            raise TokenError("Token is blacklisted")
        data = {"access": str(refresh.access_token)}
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
        data["refresh"] = str(refresh)
        return data


class RotatingTokenRefreshView(AuthThrottleMixin, TokenRefreshView):
    """POST {refresh} -> {access, refresh}. The presented refresh token is blacklisted (rotation): reuse -> 401."""

    serializer_class = RotatingTokenRefreshSerializer

    @extend_schema(
        request=TokenRefreshSerializer,
        responses={200: TokenPairSerializer, 401: ErrorSerializer, 429: ErrorSerializer},
        tags=["auth"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutView(APIView):
    """Same as POST /api/v1/accounts/users/logout/."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=LogoutInputSerializer, responses=MessageSerializer, tags=["auth"])
    def post(self, request):
        data = LogoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.refresh_token_revoke(user=request.user, refresh=data.validated_data["refresh"])
        return Response({"message": "Logged out."})
