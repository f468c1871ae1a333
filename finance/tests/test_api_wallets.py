from datetime import date
from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from finance.tests.books_data import contribution, count_queries, fine, loan
from groups.choices import MembershipStatus
from groups.models import Membership
from groups.tests.factories import add_member, make_group

pytestmark = pytest.mark.django_db

URL = "/api/v1/accounts/wallets/"


@pytest.fixture
def wallet_user():
    user = UserFactory(first_name="Wanjiku", last_name="Kamau")
    first = make_group(name="Alpha Chama")
    second = make_group(name="Beta Chama")
    left = make_group(name="Gamma Chama")
    for group in (first, second, left):
        add_member(group, user=user)
    contribution(first, user, "1000", date(2024, 1, 1))
    contribution(first, user, "500", date(2024, 2, 1))
    loan(first, user, "800", date(2024, 2, 5))
    contribution(second, user, "2000", date(2024, 1, 1))
    fine(second, user, "100", date(2024, 1, 15))
    contribution(left, user, "9999", date(2024, 1, 1))
    Membership.objects.filter(group=left, user=user).update(status=MembershipStatus.EXITED)
    return user, first, second, left


def test_my_wallet_totals_savings_across_active_groups(make_client, wallet_user):
    user, first, second, _ = wallet_user
    response = make_client(user).get(f"{URL}my_wallet/")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["id"] == user.id and data["user"] == user.id
    assert data["user_email"] == user.email and data["user_name"] == "Wanjiku Kamau"
    assert data["balance"] == "3500.00"  # 1500 + 2000; the exited group's 9999 is not counted
    assert data["loans_outstanding"] == "800.00" and data["fines_outstanding"] == "100.00"
    assert data["net"] == "2600.00" and data["currency"] == "KES"
    assert [g["group"] for g in data["groups"]] == [first.id, second.id]
    alpha = data["groups"][0]
    assert alpha == {
        "group": first.id,
        "group_name": "Alpha Chama",
        "currency": "KES",
        "savings": "1500.00",
        "loans_outstanding": "800.00",
        "fines_outstanding": "0.00",
        "net": "700.00",
    }
    assert "created_at" in data and "updated_at" in data


def test_wallet_list_and_detail_are_scoped_to_active_memberships(make_client, wallet_user):
    user, first, second, left = wallet_user
    client = make_client(user)
    rows = client.get(URL).json()["results"]
    assert [(r["group"], r["savings"]) for r in rows] == [(first.id, "1500.00"), (second.id, "2000.00")]
    assert client.get(f"{URL}{second.id}/").json()["fines_outstanding"] == "100.00"
    assert client.get(f"{URL}{left.id}/").status_code == 404
    assert client.get(f"{URL}{make_group().id}/").status_code == 404


def test_new_user_has_an_empty_wallet(make_client):
    data = make_client(UserFactory()).get(f"{URL}my_wallet/").json()
    assert data["balance"] == "0.00" and data["groups"] == []


def test_wallet_needs_authentication(api_client):
    assert api_client.get(f"{URL}my_wallet/").status_code == 401


def test_my_wallet_query_count_does_not_grow_with_groups(make_client):
    user = UserFactory()
    groups = [make_group() for _ in range(4)]
    add_member(groups[0], user=user)
    contribution(groups[0], user, "10")
    client = make_client(user)
    one, _ = count_queries(lambda: client.get(f"{URL}my_wallet/"))
    for group in groups[1:]:
        add_member(group, user=user)
        contribution(group, user, "10")
    many, response = count_queries(lambda: client.get(f"{URL}my_wallet/"))
    assert len(response.json()["groups"]) == 4 and response.json()["balance"] == "40.00"
    assert one == many <= 4  # auth user, memberships, group names, balances


def test_wallet_rows_equal_the_member_balance_selector(make_client, wallet_user):
    from finance.selectors.ledger import member_balances

    user, first, *_ = wallet_user
    row = make_client(user).get(f"{URL}{first.id}/").json()
    balances = member_balances(group_id=first.id, member_id=user.id)
    assert Decimal(row["savings"]) == balances["MEMBER_SAVINGS"]
    assert Decimal(row["loans_outstanding"]) == balances["LOANS_RECEIVABLE"]
