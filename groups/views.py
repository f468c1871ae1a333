"""
The groups API (/api/v1/groups/): thin viewsets. get_queryset() returns a scoped selector result (so another
group's objects answer 404), writes validate an *InputSerializer and call one service, and figures that come
from finance/investments are attached to the whole page with one provider call (see groups.selectors).

Notes for clients of the first backend:
- DELETE /chama-groups/{id}/ does not delete: the chairperson deactivates the group (is_active=false), 204.
- POST /memberships/{id}/approve/ is kept as an alias of reinstate: an official re-admits a SUSPENDED member.
  New members join by invitation (POST /memberships/ or /invitations/) and accept it themselves.
- DELETE /memberships/{id}/ is exit: the member leaves, or an official removes them (status EXITED).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from groups import selectors, services
from groups.filters import (
    ChamaGroupFilterSet,
    GroupGoalFilterSet,
    GroupInvitationFilterSet,
    GroupMessageFilterSet,
    GroupOfficialFilterSet,
    MembershipFilterSet,
)
from groups.models import ChamaGroup, GroupGoal, GroupInvitation, GroupMessage, GroupOfficial, Membership
from groups.serializers import (
    ChamaGroupCreateInputSerializer,
    ChamaGroupSerializer,
    ChamaGroupUpdateInputSerializer,
    GroupDashboardSerializer,
    GroupGoalCreateInputSerializer,
    GroupGoalSerializer,
    GroupGoalUpdateInputSerializer,
    GroupInvitationCreateInputSerializer,
    GroupInvitationSerializer,
    GroupMessageCreateInputSerializer,
    GroupMessageEditInputSerializer,
    GroupMessageSerializer,
    GroupOfficialCreateInputSerializer,
    GroupOfficialSerializer,
    MembershipCreateInputSerializer,
    MembershipRoleChangeInputSerializer,
    MembershipSerializer,
)

NO_CONTENT = OpenApiResponse(description="Done; no body.")


class ScopedViewSetMixin:
    """
    Common plumbing: `scoped_queryset(user)` gives the caller's rows; `attach(rows)` decorates a page (or one
    object) with provider figures in one call, so the query count does not grow with the page size.
    """

    model: type
    empty_for_schema = True

    def scoped_queryset(self, user):  # pragma: no cover - an abstract hook: every viewset overrides it
        raise NotImplementedError(f"{type(self).__name__} must define scoped_queryset(user)")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.scoped_queryset(self.request.user)

    def attach(self, rows: list) -> list:
        return rows

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        if page is not None:
            return self.get_paginated_response(self.get_serializer(self.attach(list(page)), many=True).data)
        return Response(self.get_serializer(self.attach(list(queryset)), many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return self.respond(self.get_object())

    def reload(self, pk: int):
        """The object as the scoped queryset shows it (annotations included)."""
        return self.get_queryset().get(pk=pk)

    def respond(self, instance, *, status_code: int = status.HTTP_200_OK, serializer_class=None):
        serializer_class = serializer_class or self.get_serializer_class()
        rows = self.attach([instance]) if serializer_class is self.get_serializer_class() else [instance]
        return Response(serializer_class(rows[0], context=self.get_serializer_context()).data, status=status_code)


# ---------------------------------------------------------------------------------------------------------------
# chama-groups
# ---------------------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Groups where the caller is an ACTIVE member"),
    retrieve=extend_schema(summary="A group (members only)"),
    create=extend_schema(
        summary="Create a group (the caller becomes its chairperson)",
        request=ChamaGroupCreateInputSerializer,
        responses={201: ChamaGroupSerializer},
    ),
    update=extend_schema(
        summary="Change a group's settings (officials)",
        request=ChamaGroupUpdateInputSerializer,
        responses=ChamaGroupSerializer,
    ),
    partial_update=extend_schema(
        summary="Change some of a group's settings (officials)",
        request=ChamaGroupUpdateInputSerializer,
        responses=ChamaGroupSerializer,
    ),
    destroy=extend_schema(
        summary="Deactivate the group (chairperson only); the group is kept with is_active=false",
        responses={204: NO_CONTENT},
    ),
)
class ChamaGroupViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    model = ChamaGroup
    serializer_class = ChamaGroupSerializer
    filterset_class = ChamaGroupFilterSet
    search_fields = ["name", "code", "description"]
    ordering_fields = ["name", "created_at"]
    ordering = ["-created_at"]

    def scoped_queryset(self, user):
        return selectors.group_list(user=user)

    def attach(self, rows):
        return selectors.group_figures_attach(rows)

    def create(self, request, *args, **kwargs):
        data = ChamaGroupCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        group = services.group_create(creator=request.user, **data.validated_data)
        return self.respond(self.reload(group.pk), status_code=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        group = self.get_object()
        data = ChamaGroupUpdateInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        services.group_update(actor=request.user, group=group, **data.validated_data)
        return self.respond(self.reload(group.pk))

    def destroy(self, request, *args, **kwargs):
        services.group_deactivate(actor=request.user, group=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="The caller's groups, unpaginated", responses=ChamaGroupSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def my_groups(self, request):
        rows = self.attach(list(self.get_queryset()))
        return Response(self.get_serializer(rows, many=True).data)

    @extend_schema(summary="The group's memberships, unpaginated", responses=MembershipSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def members(self, request, pk=None):
        group = self.get_object()
        rows = selectors.membership_contributions_attach(selectors.group_member_list(group_id=group.id))
        return Response(MembershipSerializer(rows, many=True, context=self.get_serializer_context()).data)

    @extend_schema(summary="Figures for the group's dashboard", responses=GroupDashboardSerializer)
    @action(detail=True, methods=["get"], filter_backends=[])
    def dashboard(self, request, pk=None):
        group = self.get_object()
        selectors.group_figures_attach([group], investments=True)
        group.active_goals = selectors.group_active_goal_list(group_id=group.id)
        return Response(GroupDashboardSerializer(group, context=self.get_serializer_context()).data)


# ---------------------------------------------------------------------------------------------------------------
# memberships
# ---------------------------------------------------------------------------------------------------------------


def _membership_action(summary: str, request=None):
    return extend_schema(summary=summary, request=request, responses=MembershipSerializer)


def _membership_transition(name: str, service, summary: str):
    """A POST /memberships/{id}/<name>/ action that calls one membership service and returns the membership."""

    def transition(self, request, pk=None):
        return self._after(service(actor=request.user, membership=self.get_object()))

    transition.__name__ = name
    return _membership_action(summary)(action(detail=True, methods=["post"])(transition))


@extend_schema_view(
    list=extend_schema(summary="Memberships of the caller's groups, and the caller's own pending invitations"),
    create=extend_schema(
        summary="Invite an existing user (officials); the membership is INVITED until they accept",
        request=MembershipCreateInputSerializer,
        responses={201: MembershipSerializer},
    ),
    destroy=extend_schema(
        summary="Exit: a member leaves, or an official removes a member (status EXITED)", responses={204: NO_CONTENT}
    ),
)
class MembershipViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    model = Membership
    serializer_class = MembershipSerializer
    filterset_class = MembershipFilterSet
    search_fields = ["user__first_name", "user__last_name", "user__phone_number"]
    ordering_fields = ["member_number", "joined_at"]

    def scoped_queryset(self, user):
        return selectors.membership_list(user=user)

    def attach(self, rows):
        return selectors.membership_contributions_attach(rows)

    def create(self, request, *args, **kwargs):
        data = MembershipCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_invite(
            actor=request.user,
            group_id=data.validated_data["group"],
            user_id=data.validated_data["user"],
            role=data.validated_data["role"],
        )
        return self.respond(self.reload(membership.pk), status_code=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        services.membership_exit(actor=request.user, membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _after(self, membership):
        return self.respond(Membership.objects.select_related("user", "group").get(pk=membership.pk))

    accept = _membership_transition("accept", services.membership_accept, "Accept an invitation (the invitee only)")
    decline = _membership_transition("decline", services.membership_decline, "Decline an invitation (the invitee only)")
    suspend = _membership_transition(
        "suspend", services.membership_suspend, "Suspend an active member (officials; not themselves)"
    )
    reinstate = _membership_transition(
        "reinstate", services.membership_reinstate, "Reinstate a suspended member (officials)"
    )
    approve = _membership_transition(
        "approve",
        services.membership_reinstate,
        "Legacy alias of reinstate: an official re-admits a SUSPENDED member",
    )
    exit = _membership_transition("exit", services.membership_exit, "Leave the group, or (officials) remove a member")

    @_membership_action(
        "Change a member's role (officials; never one's own; a chairperson must remain)",
        request=MembershipRoleChangeInputSerializer,
    )
    @action(detail=True, methods=["post"])
    def change_role(self, request, pk=None):
        membership = self.get_object()
        data = MembershipRoleChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._after(
            services.membership_role_change(actor=request.user, membership=membership, role=data.validated_data["role"])
        )


# ---------------------------------------------------------------------------------------------------------------
# invitations (by phone number)
# ---------------------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Invitations of the caller's groups (officials) and those sent to the caller's phone"),
    create=extend_schema(
        summary="Invite a phone number (officials); expires after 14 days",
        request=GroupInvitationCreateInputSerializer,
        responses={201: GroupInvitationSerializer},
    ),
)
class GroupInvitationViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    model = GroupInvitation
    serializer_class = GroupInvitationSerializer
    filterset_class = GroupInvitationFilterSet
    search_fields = ["phone_number", "group__name"]
    ordering_fields = ["created_at", "expires_at"]

    def scoped_queryset(self, user):
        return selectors.invitation_list(user=user)

    def create(self, request, *args, **kwargs):
        data = GroupInvitationCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            actor=request.user,
            group_id=data.validated_data["group"],
            phone_number=data.validated_data["phone_number"],
            role=data.validated_data["role"],
        )
        return self.respond(self.reload(invitation.pk), status_code=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Accept (the invited phone's owner): join the group", request=None, responses=MembershipSerializer
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        membership = services.invitation_accept(actor=request.user, invitation=self.get_object())
        membership = selectors.membership_contributions_attach(
            [Membership.objects.select_related("user", "group").get(pk=membership.pk)]
        )[0]
        return Response(MembershipSerializer(membership, context=self.get_serializer_context()).data)

    @extend_schema(summary="Decline (the invited phone's owner)", request=None, responses=GroupInvitationSerializer)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        invitation = services.invitation_decline(actor=request.user, invitation=self.get_object())
        return self.respond(GroupInvitation.objects.select_related("group").get(pk=invitation.pk))

    @extend_schema(summary="Revoke a pending invitation (officials)", request=None, responses=GroupInvitationSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        invitation = services.invitation_revoke(actor=request.user, invitation=self.get_object())
        return self.respond(self.reload(invitation.pk))


# ---------------------------------------------------------------------------------------------------------------
# officials
# ---------------------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Terms of office, current and past"),
    create=extend_schema(
        summary="Appoint a member to a position (officials; not oneself); the previous holder's term ends",
        request=GroupOfficialCreateInputSerializer,
        responses={201: GroupOfficialSerializer},
    ),
)
class GroupOfficialViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    model = GroupOfficial
    serializer_class = GroupOfficialSerializer
    filterset_class = GroupOfficialFilterSet
    search_fields = ["membership__user__first_name", "membership__user__last_name", "membership__user__phone_number"]
    ordering_fields = ["term_start", "created_at", "position"]

    def scoped_queryset(self, user):
        return selectors.official_list(user=user)

    def create(self, request, *args, **kwargs):
        data = GroupOfficialCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        term = services.official_appoint(
            actor=request.user,
            membership_id=data.validated_data["membership"],
            position=data.validated_data["position"],
        )
        return self.respond(self.reload(term.pk), status_code=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------------------------------------------
# goals
# ---------------------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Goals of the caller's groups, with progress from the ledger"),
    create=extend_schema(
        summary="Create a goal (officials)",
        request=GroupGoalCreateInputSerializer,
        responses={201: GroupGoalSerializer},
    ),
    update=extend_schema(
        summary="Change a goal (officials)", request=GroupGoalUpdateInputSerializer, responses=GroupGoalSerializer
    ),
    partial_update=extend_schema(
        summary="Change part of a goal (officials)",
        request=GroupGoalUpdateInputSerializer,
        responses=GroupGoalSerializer,
    ),
    destroy=extend_schema(summary="Delete a goal (officials)", responses={204: NO_CONTENT}),
)
class GroupGoalViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    model = GroupGoal
    serializer_class = GroupGoalSerializer
    filterset_class = GroupGoalFilterSet
    search_fields = ["title", "description"]
    ordering_fields = ["target_date", "created_at", "target_amount"]

    def scoped_queryset(self, user):
        return selectors.goal_list(user=user)

    def attach(self, rows):
        return selectors.goal_progress_attach(rows)

    def create(self, request, *args, **kwargs):
        data = GroupGoalCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        goal = services.goal_create(actor=request.user, group_id=values.pop("group"), **values)
        return self.respond(self.reload(goal.pk), status_code=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        goal = self.get_object()
        data = GroupGoalUpdateInputSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        services.goal_update(actor=request.user, goal=goal, **data.validated_data)
        return self.respond(self.reload(goal.pk))

    def destroy(self, request, *args, **kwargs):
        services.goal_delete(actor=request.user, goal=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Mark the goal achieved (officials)", request=None, responses=GroupGoalSerializer)
    @action(detail=True, methods=["post"])
    def mark_achieved(self, request, pk=None):
        goal = services.goal_mark_achieved(actor=request.user, goal=self.get_object())
        return self.respond(self.reload(goal.pk))


# ---------------------------------------------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Messages of the caller's groups"),
    create=extend_schema(
        summary="Post a message (active members)",
        request=GroupMessageCreateInputSerializer,
        responses={201: GroupMessageSerializer},
    ),
    destroy=extend_schema(summary="Delete a message (the sender or an official)", responses={204: NO_CONTENT}),
)
class GroupMessageViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    model = GroupMessage
    serializer_class = GroupMessageSerializer
    filterset_class = GroupMessageFilterSet
    search_fields = ["content"]
    ordering_fields = ["created_at"]

    def scoped_queryset(self, user):
        return selectors.message_list(user=user)

    def create(self, request, *args, **kwargs):
        data = GroupMessageCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_post(
            actor=request.user, group_id=data.validated_data["group"], content=data.validated_data["content"]
        )
        return self.respond(self.reload(message.pk), status_code=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        services.message_delete(actor=request.user, message=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Edit one's own message", request=GroupMessageEditInputSerializer, responses=GroupMessageSerializer
    )
    @action(detail=True, methods=["patch"])
    def edit(self, request, pk=None):
        message = self.get_object()
        data = GroupMessageEditInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_edit(actor=request.user, message=message, content=data.validated_data["content"])
        return self.respond(self.reload(message.pk))
