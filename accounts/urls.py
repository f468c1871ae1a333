"""/api/v1/accounts/: users (register, me, passwords, logout). /api/v1/accounts/wallets/ is finance's."""

from accounts.views import UserViewSet
from chamahub.api.routers import ChamaRouter

router = ChamaRouter()
router.register("users", UserViewSet, basename="user")

urlpatterns = router.urls
