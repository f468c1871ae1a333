"""/api/v1/groups/ — route names follow the first web client (chama-groups, memberships, goals, messages)."""

from rest_framework.routers import DefaultRouter

from groups import views

router = DefaultRouter()
router.register("chama-groups", views.ChamaGroupViewSet, basename="chama-group")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("invitations", views.GroupInvitationViewSet, basename="group-invitation")
router.register("officials", views.GroupOfficialViewSet, basename="group-official")
router.register("goals", views.GroupGoalViewSet, basename="group-goal")
router.register("messages", views.GroupMessageViewSet, basename="group-message")

urlpatterns = router.urls
