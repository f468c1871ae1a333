"""The admin pages for contributions, fines and share-outs render, and money cannot be edited there."""

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import User
from finance.services.contributions import contribution_record
from finance.services.fines import fine_charge
from groups.tests.factories import add_member, chair_of, make_group

pytestmark = pytest.mark.django_db


def test_admin_pages_render_and_are_read_only_for_money():
    group = make_group()
    chair = chair_of(group)
    member = add_member(group).user
    contribution = contribution_record(
        actor=chair, group_id=group.id, amount=Decimal("10"), payment_method="CASH", member_id=member.id
    )
    fine = fine_charge(actor=chair, group_id=group.id, member_id=member.id, amount=Decimal("5"), reason="late")
    admin_user = User.objects.create_superuser(phone_number="+254799999999", password="Passw0rd!234")
    client = Client()
    client.force_login(admin_user)
    for url in (
        "/admin/finance/contribution/?q=x&status__exact=CONFIRMED",
        f"/admin/finance/contribution/{contribution.id}/change/",
        "/admin/finance/fine/?q=late",
        f"/admin/finance/fine/{fine.id}/change/",
        "/admin/finance/shareout/",
        "/admin/finance/shareoutallocation/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/finance/contribution/add/").status_code == 403
    page = client.get(f"/admin/finance/contribution/{contribution.id}/change/").content.decode()
    assert 'name="amount"' not in page
