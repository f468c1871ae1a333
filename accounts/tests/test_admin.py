"""The Django admin pages for accounts load, search, and store phones in E.164."""

import pytest

from accounts.models import PasswordResetToken, User
from accounts.tests.helpers import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def test_user_admin_pages_load(admin_client):
    user = make_user(phone_number="+254733000444")
    assert admin_client.get("/admin/accounts/user/").status_code == 200
    assert admin_client.get("/admin/accounts/user/", {"q": "733000444"}).status_code == 200
    assert admin_client.get("/admin/accounts/user/", {"kyc_status__exact": "UNVERIFIED"}).status_code == 200
    assert admin_client.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 200
    assert admin_client.get("/admin/accounts/user/add/").status_code == 200
    assert admin_client.get("/admin/accounts/passwordresettoken/").status_code == 200


def test_admin_add_user_normalises_the_phone(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "phone_number": "0712 000 111",
            "email": "Admin.Made@Example.com",
            "first_name": "Baraka",
            "last_name": "Mutua",
            "password1": "Harambee!2024",
            "password2": "Harambee!2024",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(phone_number="+254712000111")
    assert user.email == "admin.made@example.com"
    assert user.check_password("Harambee!2024")


def test_reset_tokens_are_read_only_in_admin(admin_client):
    assert admin_client.get("/admin/accounts/passwordresettoken/add/").status_code == 403
    assert not PasswordResetToken.objects.exists()
