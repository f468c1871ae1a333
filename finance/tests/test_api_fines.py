"""Fines through the API: manual fines, payments, waivers, the late-fine rule and scoping."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from finance.choices import AccountKind, EntryKind, FineKind, FineStatus
from finance.models import Fine, JournalEntry
from finance.selectors.ledger import account_balance
from finance.services.contributions import contribution_record
from finance.services.fines import fine_charge, late_fines_charge
from finance.tests.contribution_helpers import (
    FINES_URL,
    URL,
    assert_ledger_consistent,
    aware,
    backdate_join,
    group_with_member,
    months_back,
    snapshot,
)
from groups.tests.factories import add_member

pytestmark = pytest.mark.django_db


def _fine(client, group, member, amount="200.00", reason="Late to the meeting"):
    return client.post(
        FINES_URL, {"group": group.id, "member": member.id, "amount": amount, "reason": reason}, format="json"
    )


def _receivable(group, member):
    return account_balance(group_id=group.id, kind=AccountKind.FINES_RECEIVABLE, member_id=member.id)


# --- manual fines ---------------------------------------------------------------------------------------------


def test_official_charges_a_manual_fine_and_it_posts(make_client):
    group, chair, member = group_with_member()
    response = _fine(make_client(chair), group, member)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "MANUAL"
    assert body["status"] == "UNPAID"
    assert body["outstanding"] == "200.00"
    assert body["charged_by"] == chair.id
    entry = JournalEntry.objects.get(pk=body["journal_entry"])
    assert entry.reference == f"fine:{body['id']}"
    assert entry.kind == EntryKind.FINE_CHARGE
    assert _receivable(group, member) == Decimal("200.00")
    assert account_balance(group_id=group.id, kind=AccountKind.FINES_INCOME) == Decimal("200.00")
    assert_ledger_consistent(group)


def test_member_cannot_fine_and_outsiders_get_404(make_client):
    group, _chair, member = group_with_member()
    other = add_member(group).user
    before = snapshot()
    assert _fine(make_client(member), group, other).status_code == 403
    assert _fine(make_client(UserFactory()), group, other).status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("amount", ["0", "-1", "5.555"])
def test_bad_fine_amounts_are_400_and_write_nothing(make_client, amount):
    group, chair, member = group_with_member()
    before = snapshot()
    response = _fine(make_client(chair), group, member, amount=amount)
    assert response.status_code == 400
    assert "amount" in response.json()["fields"]
    assert snapshot() == before


def test_fining_a_non_member_is_400(make_client):
    group, chair, _member = group_with_member()
    before = snapshot()
    response = _fine(make_client(chair), group, UserFactory())
    assert response.status_code == 400
    assert "member" in response.json()["fields"]
    assert snapshot() == before


# --- payments and waivers -------------------------------------------------------------------------------------


def test_partial_then_full_payment_and_overpayment_refused(make_client):
    group, chair, member = group_with_member()
    client = make_client(chair)
    fine_id = _fine(client, group, member, amount="300").json()["id"]

    response = client.post(f"{FINES_URL}{fine_id}/pay/", {"amount": "100", "payment_method": "MPESA"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "UNPAID"
    assert response.json()["amount_paid"] == "100.00"
    assert response.json()["outstanding"] == "200.00"
    assert _receivable(group, member) == Decimal("200.00")

    before = snapshot()
    over = client.post(f"{FINES_URL}{fine_id}/pay/", {"amount": "200.01", "payment_method": "CASH"}, format="json")
    assert over.status_code == 400
    assert "amount" in over.json()["fields"]
    assert snapshot() == before

    done = client.post(f"{FINES_URL}{fine_id}/pay/", {"amount": "200", "payment_method": "CASH"}, format="json")
    assert done.json()["status"] == "PAID"
    assert done.json()["outstanding"] == "0.00"
    assert _receivable(group, member) == 0
    assert account_balance(group_id=group.id, kind=AccountKind.CASH) == Decimal("300.00")
    assert client.post(f"{FINES_URL}{fine_id}/pay/", {"amount": "1"}, format="json").status_code == 409
    assert client.post(f"{FINES_URL}{fine_id}/waive/").status_code == 409
    assert_ledger_consistent(group)


def test_pay_bad_amount_is_400(make_client):
    group, chair, member = group_with_member()
    client = make_client(chair)
    fine_id = _fine(client, group, member).json()["id"]
    before = snapshot()
    for amount in ("0", "-3", "1.001"):
        assert client.post(f"{FINES_URL}{fine_id}/pay/", {"amount": amount}, format="json").status_code == 400
    assert snapshot() == before


def test_waive_reverses_the_unpaid_remainder(make_client):
    group, chair, member = group_with_member()
    client = make_client(chair)
    fine_id = _fine(client, group, member, amount="500").json()["id"]
    client.post(f"{FINES_URL}{fine_id}/pay/", {"amount": "150"}, format="json")
    response = client.post(f"{FINES_URL}{fine_id}/waive/", {"reason": "first offence"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "WAIVED"
    assert _receivable(group, member) == 0
    assert account_balance(group_id=group.id, kind=AccountKind.FINES_INCOME) == Decimal("150.00")
    assert JournalEntry.objects.filter(group=group, reference=f"fine:{fine_id}:waiver").count() == 1
    assert_ledger_consistent(group)


def test_member_cannot_pay_or_waive_and_other_groups_get_404(make_client):
    group, chair, member = group_with_member()
    fine_id = _fine(make_client(chair), group, member).json()["id"]
    _other, other_chair, _ = group_with_member()
    before = snapshot()
    assert make_client(member).post(f"{FINES_URL}{fine_id}/pay/", {"amount": "10"}, format="json").status_code == 403
    assert make_client(member).post(f"{FINES_URL}{fine_id}/waive/").status_code == 403
    assert (
        make_client(other_chair).post(f"{FINES_URL}{fine_id}/pay/", {"amount": "10"}, format="json").status_code == 404
    )
    assert make_client(other_chair).get(f"{FINES_URL}{fine_id}/").status_code == 404
    assert snapshot() == before


# --- listing --------------------------------------------------------------------------------------------------


def test_fine_list_scoping_and_filters(make_client):
    group, chair, member = group_with_member()
    other = add_member(group).user
    client = make_client(chair)
    mine = _fine(client, group, member).json()["id"]
    theirs = _fine(client, group, other, reason="Absent").json()["id"]
    client.post(f"{FINES_URL}{theirs}/waive/")
    other_group, other_chair, other_member = group_with_member()
    foreign = _fine(make_client(other_chair), other_group, other_member).json()["id"]

    def ids(c, **params):
        response = c.get(FINES_URL, params)
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert ids(make_client(member)) == {mine}
    assert ids(client) == {mine, theirs}
    assert foreign not in ids(client)
    assert ids(client, status="WAIVED") == {theirs}
    assert ids(client, member=member.id) == {mine}
    assert ids(client, kind="MANUAL", group=group.id) == {mine, theirs}
    assert ids(client, kind="LATE_CONTRIBUTION") == set()
    assert ids(client, search="Absent") == {theirs}
    assert ids(make_client(UserFactory())) == set()


def test_fine_list_query_count_does_not_grow_with_rows(make_client):
    group, chair, _member = group_with_member()
    members = [add_member(group).user for _ in range(5)]
    client = make_client(chair)

    def add(n):
        for i in range(n):
            fine_charge(actor=chair, group_id=group.id, member_id=members[i % 5].id, amount=Decimal("50"), reason="x")

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(FINES_URL, {"page_size": 100})
        return len(ctx.captured_queries), response.json()["count"]

    add(5)
    small, rows = count()
    add(20)
    large, rows_large = count()
    assert (rows, rows_large) == (5, 25)
    assert small == large


# --- the late-fine rule ---------------------------------------------------------------------------------------


def _late_group():
    """A monthly group that started 3 calendar months ago, grace 0 days, 1000 a month, fine 100."""
    today = timezone.localdate()
    start = months_back(today, 3)
    group, chair, member = group_with_member(
        cycle_start_date=start,
        contribution_amount=Decimal("1000.00"),
        late_fine_amount=Decimal("100.00"),
        late_fine_grace_days=0,
    )
    backdate_join(group, member, start)
    return group, chair, member, start


def test_late_fines_are_charged_once_per_short_period_even_when_run_twice(make_client):
    group, chair, member, start = _late_group()
    today = timezone.localdate()
    # Period 1 fully paid, period 2 short, period 3 unpaid, the current period not yet due.
    for day, amount in ((start, "1000"), (months_back(today, 2), "999.99")):
        contribution_record(
            actor=chair,
            group_id=group.id,
            amount=Decimal(amount),
            payment_method="CASH",
            member_id=member.id,
            paid_at=aware(day),
        )
    assert late_fines_charge(group_id=group.id) == 2
    assert late_fines_charge(group_id=group.id) == 0
    assert late_fines_charge() == 0
    fines = Fine.objects.filter(group=group, member=member, kind=FineKind.LATE_CONTRIBUTION).order_by("period")
    assert [f.period for f in fines] == [months_back(today, 2), months_back(today, 1)]
    assert all(f.amount == Decimal("100.00") and f.status == FineStatus.UNPAID for f in fines)
    # The chair joined today: nothing was due from them.
    assert not Fine.objects.filter(group=group, member=chair).exists()
    assert _receivable(group, member) == Decimal("200.00")
    assert_ledger_consistent(group)

    schedule = make_client(member).get(f"{URL}schedule/", {"group": group.id}).json()["members"][0]
    assert [p["fine"] for p in schedule["periods"]] == [None, "100.00", "100.00", None]
    assert schedule["totals"]["fines_outstanding"] == "200.00"


def test_the_unique_constraint_keeps_one_fine_when_the_pre_check_misses_it(monkeypatch):
    group, _chair, member, _start = _late_group()
    assert late_fines_charge(group_id=group.id) == 3
    entries = JournalEntry.objects.filter(group=group).count()
    # As if a concurrent run had not yet seen the other run's rows: only the constraint stops duplicates.
    monkeypatch.setattr("finance.services.fines._late_fines_already", lambda group_id: set())
    assert late_fines_charge(group_id=group.id) == 0
    assert Fine.objects.filter(group=group, member=member).count() == 3
    assert JournalEntry.objects.filter(group=group).count() == entries
    assert_ledger_consistent(group)


def test_grace_days_postpone_the_fine():
    group, _chair, _member, start = _late_group()
    group.late_fine_grace_days = 5
    group.save()
    first_due = months_back(start, -1) - timedelta(days=1)
    assert late_fines_charge(as_of=first_due + timedelta(days=5), group_id=group.id) == 0
    assert late_fines_charge(as_of=first_due + timedelta(days=6), group_id=group.id) == 1


def test_groups_without_a_late_fine_are_skipped():
    group, _chair, _member, _start = _late_group()
    group.late_fine_amount = Decimal("0")
    group.save()
    assert late_fines_charge(group_id=group.id) == 0
    assert not Fine.objects.filter(group=group).exists()


def test_charge_late_endpoint_for_officials_only(make_client):
    group, chair, member, _start = _late_group()
    before = snapshot()
    assert make_client(member).post(f"{FINES_URL}charge_late/", {"group": group.id}, format="json").status_code == 403
    assert (
        make_client(UserFactory()).post(f"{FINES_URL}charge_late/", {"group": group.id}, format="json").status_code
        == 404
    )
    assert snapshot() == before
    response = make_client(chair).post(f"{FINES_URL}charge_late/", {"group": group.id}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"charged": 3}
    again = make_client(chair).post(f"{FINES_URL}charge_late/", {"group": group.id}, format="json")
    assert again.json() == {"charged": 0}
