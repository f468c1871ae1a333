"""
/api/v1/accounts/users/...: registration, the caller's profile, passwords, password reset and logout.

Visibility: staff see every user; anyone else sees only themselves (another user's id answers 404).
Co-members of a group are listed by groups: GET /api/v1/groups/chama-groups/{id}/members/.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from accounts import selectors, services
from accounts.models import User
from accounts.serializers import (
    LogoutInputSerializer,
    MessageSerializer,
    PasswordChangeInputSerializer,
    PasswordChangeResponseSerializer,
    PasswordResetConfirmInputSerializer,
    PasswordResetRequestInputSerializer,
    PasswordResetRequestResponseSerializer,
    PasswordResetTokenInputSerializer,
    PasswordResetTokenStatusSerializer,
    UserRegisterInputSerializer,
    UserRegisterResponseSerializer,
    UserSerializer,
    UserStaffUpdateInputSerializer,
    UserUpdateInputSerializer,
)
from chamahub.api.schema import ErrorSerializer

PUBLIC_ACTIONS = {"register", "request_password_reset", "verify_reset_token", "reset_password"}
THROTTLED_ACTIONS = PUBLIC_ACTIONS | {"change_password"}
RESET_REQUESTED_MESSAGE = (
    "If an account matches, a password reset code has been sent to its email address or phone number."
)


@extend_schema_view(
    list=extend_schema(summary="Users the caller may see: everyone for staff, otherwise only the caller."),
    retrieve=extend_schema(summary="One user (another user's id answers 404 unless the caller is staff)."),
)
class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = UserSerializer
    filterset_fields = ["kyc_status", "is_active", "is_staff"]
    search_fields = ["phone_number", "email", "first_name", "last_name", "id_number"]
    ordering_fields = ["created_at", "first_name", "last_name", "phone_number"]
    ordering = ["-created_at"]
    throttle_scope = "auth"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return User.objects.none()
        return selectors.user_list(viewer=self.request.user)

    def get_permissions(self):
        if self.action in PUBLIC_ACTIONS:
            return [AllowAny()]
        return [IsAuthenticated()]

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.action in THROTTLED_ACTIONS:
            throttles.append(ScopedRateThrottle())
        return throttles

    def _update(self, request, user: User, *, partial: bool) -> Response:
        input_class = UserStaffUpdateInputSerializer if request.user.is_staff else UserUpdateInputSerializer
        data = input_class(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        user = services.user_update(user=user, actor=request.user, **data.validated_data)
        return Response(UserSerializer(user).data)

    # --- users/{id}/ ------------------------------------------------------------------------------

    @extend_schema(
        request=UserStaffUpdateInputSerializer,
        responses=UserSerializer,
        summary="Replace a profile: your own, or anyone's if staff (only staff may send is_active / is_staff).",
    )
    def update(self, request, *args, **kwargs):
        return self._update(request, self.get_object(), partial=False)

    @extend_schema(
        request=UserStaffUpdateInputSerializer,
        responses=UserSerializer,
        summary="Edit a profile: your own, or anyone's if staff (only staff may send is_active / is_staff).",
    )
    def partial_update(self, request, *args, **kwargs):
        return self._update(request, self.get_object(), partial=True)

    @extend_schema(
        request=None,
        responses={204: None},
        summary="Deactivate an account (yours, or anyone's if staff) and revoke its tokens. Nothing is deleted.",
    )
    def destroy(self, request, *args, **kwargs):
        services.user_deactivate(user=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # --- registration and profile -----------------------------------------------------------------

    @extend_schema(
        request=UserRegisterInputSerializer,
        responses={201: UserRegisterResponseSerializer, 429: ErrorSerializer},
        summary="Create an account and sign in (AllowAny, throttled).",
    )
    @action(detail=False, methods=["post"], permission_classes=[AllowAny])
    def register(self, request):
        data = UserRegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        user = services.user_register(
            phone_number=fields["phone_number"],
            password=fields["password"],
            email=fields.get("email"),
            first_name=fields["first_name"],
            last_name=fields["last_name"],
        )
        tokens = services.token_pair_issue(user=user)
        return Response({"user": UserSerializer(user).data, "tokens": tokens}, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], request=None, responses=UserSerializer, summary="The caller's profile.")
    @extend_schema(
        methods=["PUT", "PATCH"],
        request=UserUpdateInputSerializer,
        responses=UserSerializer,
        summary="Edit the caller's profile. KYC fields, is_active and is_staff are read-only here.",
    )
    @action(detail=False, methods=["get", "put", "patch"])
    def me(self, request):
        if request.method == "GET":
            return Response(UserSerializer(request.user).data)
        data = UserUpdateInputSerializer(data=request.data, partial=request.method == "PATCH")
        data.is_valid(raise_exception=True)
        user = services.user_update(user=request.user, actor=request.user, **data.validated_data)
        return Response(UserSerializer(user).data)

    # --- passwords and sessions -------------------------------------------------------------------

    @extend_schema(
        request=PasswordChangeInputSerializer,
        responses={200: PasswordChangeResponseSerializer, 429: ErrorSerializer},
        summary="Change password; every older access and refresh token stops working, a new pair is returned.",
    )
    @action(detail=False, methods=["post"])
    def change_password(self, request):
        data = PasswordChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = services.password_change(
            user=request.user,
            current_password=data.validated_data["current_password"],
            new_password=data.validated_data["new_password"],
        )
        return Response({"message": "Password changed.", "timestamp": timezone.now(), "tokens": tokens})

    @extend_schema(
        request=LogoutInputSerializer, responses=MessageSerializer, summary="Revoke (blacklist) a refresh token."
    )
    @action(detail=False, methods=["post"])
    def logout(self, request):
        data = LogoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.refresh_token_revoke(user=request.user, refresh=data.validated_data["refresh"])
        return Response({"message": "Logged out."})

    @extend_schema(
        request=PasswordResetRequestInputSerializer,
        responses={200: PasswordResetRequestResponseSerializer, 429: ErrorSerializer},
        summary="Send a one-time reset code by email (or, later, SMS). Always 200: it never reveals who has an "
        "account. With DEBUG on, the response also carries the token.",
    )
    @action(detail=False, methods=["post"], permission_classes=[AllowAny])
    def request_password_reset(self, request):
        data = PasswordResetRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = services.password_reset_request(
            email=data.validated_data.get("email") or None,
            phone_number=data.validated_data.get("phone_number") or None,
        )
        body = {"message": RESET_REQUESTED_MESSAGE, "expires_in_minutes": settings.PASSWORD_RESET_TOKEN_TTL_MINUTES}
        if settings.DEBUG and issued is not None:
            body["token"] = issued.token
        return Response(body)

    @extend_schema(
        request=PasswordResetTokenInputSerializer,
        responses={200: PasswordResetTokenStatusSerializer, 429: ErrorSerializer},
        summary="Is this reset token still usable? (uid is accepted and ignored.)",
    )
    @action(detail=False, methods=["post"], permission_classes=[AllowAny])
    def verify_reset_token(self, request):
        data = PasswordResetTokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reset_token = selectors.password_reset_token_get_usable(token=data.validated_data["token"])
        return Response(
            {"valid": reset_token is not None, "expires_at": reset_token.expires_at if reset_token else None}
        )

    @extend_schema(
        request=PasswordResetConfirmInputSerializer,
        responses={200: MessageSerializer, 429: ErrorSerializer},
        summary="Set a new password with a reset token (works once); every older token is revoked.",
    )
    @action(detail=False, methods=["post"], permission_classes=[AllowAny])
    def reset_password(self, request):
        data = PasswordResetConfirmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(
            token=data.validated_data["token"], new_password=data.validated_data["new_password"]
        )
        return Response({"message": "Password has been reset. Sign in with the new password."})
