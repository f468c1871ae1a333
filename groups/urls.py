"""/api/v1/groups/ — route names follow the first web client (chama-groups, memberships, goals, messages)."""

from chamahub.api.routers import ChamaRouter
from groups import views

router = ChamaRouter()
router.register("chama-groups", views.ChamaGroupViewSet, basename="chama-group")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("invitations", views.GroupInvitationViewSet, basename="group-invitation")
router.register("officials", views.GroupOfficialViewSet, basename="group-official")
router.register("goals", views.GroupGoalViewSet, basename="group-goal")
router.register("messages", views.GroupMessageViewSet, basename="group-message")

urlpatterns = router.urls
