"""Contributions through the API: recording, confirmation and the ledger, reversal, reconcile, export, scoping."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from finance.choices import AccountKind, ContributionStatus, EntryKind
from finance.models import Contribution, JournalEntry
from finance.selectors.ledger import account_balance, member_balances
from finance.services.contributions import contribution_confirm, contribution_record
from finance.services.schedule import period_containing
from finance.tests.contribution_helpers import (
    URL,
    assert_ledger_consistent,
    aware,
    group_with_member,
    snapshot,
)
from groups.choices import Role
from groups.tests.factories import add_member

pytestmark = pytest.mark.django_db


def _record(client, group, **body):
    payload = {"group": group.id, "amount": "1000.00", "payment_method": "CASH", **body}
    return client.post(URL, payload, format="json")


# --- recording ---------------------------------------------------------------------------------------------


def test_member_records_own_contribution_as_pending_with_no_posting(make_client):
    group, _chair, member = group_with_member()
    before = JournalEntry.objects.filter(group=group).count()
    response = _record(make_client(member), group, reference_number="REF-1", notes="January")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "PENDING"
    assert body["status_display"] == "Pending"
    assert body["member"] == member.id
    assert body["member_name"] == member.full_name
    assert body["group_name"] == group.name
    assert body["recorded_by"] == member.id
    assert body["journal_entry"] is None
    expected_period = period_containing(
        anchor=group.cycle_start_date, frequency=group.contribution_frequency, day=timezone.localdate()
    ).start
    assert body["period"] == expected_period.isoformat()
    assert JournalEntry.objects.filter(group=group).count() == before


def test_client_supplied_status_is_ignored(make_client):
    group, _chair, member = group_with_member()
    response = _record(make_client(member), group, status="CONFIRMED")
    assert response.status_code == 201
    assert response.json()["status"] == "PENDING"


@pytest.mark.parametrize("method", ["CASH", "BANK"])
def test_official_recording_cash_or_bank_confirms_and_posts_one_balanced_entry(make_client, method):
    group, chair, member = group_with_member()
    response = _record(make_client(chair), group, member=member.id, payment_method=method, amount="1500.50")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "CONFIRMED"
    assert body["recorded_by"] == chair.id
    assert body["confirmed_at"] is not None
    entry = JournalEntry.objects.get(pk=body["journal_entry"])
    assert entry.reference == f"contribution:{body['id']}"
    assert entry.kind == EntryKind.CONTRIBUTION
    legs = {(p.account.kind, p.account.member_id): p.amount for p in entry.postings.select_related("account")}
    assert legs == {
        (AccountKind.CASH, None): Decimal("1500.50"),
        (AccountKind.MEMBER_SAVINGS, member.id): Decimal("-1500.50"),
    }
    assert account_balance(group_id=group.id, kind=AccountKind.MEMBER_SAVINGS, member_id=member.id) == Decimal(
        "1500.50"
    )
    assert_ledger_consistent(group)


def test_official_recording_mpesa_stays_pending(make_client):
    group, chair, member = group_with_member()
    response = _record(make_client(chair), group, member=member.id, payment_method="MPESA", reference_number="QX1")
    assert response.status_code == 201
    assert response.json()["status"] == "PENDING"
    assert response.json()["journal_entry"] is None


def test_paid_at_and_period_are_respected(make_client):
    group, chair, member = group_with_member()
    paid_at = timezone.now() - timedelta(days=40)
    response = _record(make_client(chair), group, member=member.id, paid_at=paid_at.isoformat())
    assert response.status_code == 201
    expected = period_containing(
        anchor=group.cycle_start_date, frequency=group.contribution_frequency, day=timezone.localdate(paid_at)
    ).start
    assert response.json()["period"] == expected.isoformat()
    entry = JournalEntry.objects.get(pk=response.json()["journal_entry"])
    assert entry.entry_date == timezone.localdate(paid_at)


def test_plain_member_cannot_record_for_someone_else(make_client):
    group, _chair, member = group_with_member()
    other = add_member(group).user
    before = snapshot()
    response = _record(make_client(member), group, member=other.id)
    assert response.status_code == 403
    assert snapshot() == before


def test_official_cannot_record_for_a_non_member(make_client):
    group, chair, _member = group_with_member()
    outsider = UserFactory()
    before = snapshot()
    response = _record(make_client(chair), group, member=outsider.id)
    assert response.status_code == 400
    assert "member" in response.json()["fields"]
    assert snapshot() == before


def test_recording_in_another_group_is_404(make_client):
    group, _chair, _member = group_with_member()
    outsider = UserFactory()
    before = snapshot()
    response = _record(make_client(outsider), group)
    assert response.status_code == 404
    assert "group" in response.json()["fields"]
    assert snapshot() == before


@pytest.mark.parametrize("amount", ["0", "0.00", "-5", "10.123", "abc"])
def test_bad_amounts_are_400_and_write_nothing(make_client, amount):
    group, chair, member = group_with_member()
    before = snapshot()
    response = _record(make_client(chair), group, member=member.id, amount=amount)
    assert response.status_code == 400
    assert "amount" in response.json()["fields"]
    assert snapshot() == before


def test_future_paid_at_is_400_and_writes_nothing(make_client):
    group, chair, member = group_with_member()
    before = snapshot()
    future = (timezone.now() + timedelta(hours=2)).isoformat()
    response = _record(make_client(chair), group, member=member.id, paid_at=future)
    assert response.status_code == 400
    assert "paid_at" in response.json()["fields"]
    assert snapshot() == before


def test_duplicate_reference_is_409_with_field_message_and_writes_nothing(make_client):
    group, chair, member = group_with_member()
    assert _record(make_client(chair), group, member=member.id, reference_number="BANK-77").status_code == 201
    before = snapshot()
    response = _record(make_client(member), group, reference_number="BANK-77")
    assert response.status_code == 409
    assert "reference_number" in response.json()["fields"]
    assert snapshot() == before


# --- confirm / fail / reverse / reconcile -------------------------------------------------------------------


def _pending(group, member) -> Contribution:
    return contribution_record(actor=member, group_id=group.id, amount=Decimal("800"), payment_method="MPESA")


def test_official_confirms_pending_once_and_confirming_again_is_a_no_op(make_client):
    group, chair, member = group_with_member()
    contribution = _pending(group, member)
    client = make_client(chair)
    response = client.post(f"{URL}{contribution.id}/confirm/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "CONFIRMED"
    entries = JournalEntry.objects.filter(group=group, reference=f"contribution:{contribution.id}")
    assert entries.count() == 1
    again = client.post(f"{URL}{contribution.id}/confirm/")
    assert again.status_code == 200
    assert again.json()["journal_entry"] == response.json()["journal_entry"]
    # the M-Pesa callback path (no actor) is idempotent too
    assert contribution_confirm(contribution_id=contribution.id).status == ContributionStatus.CONFIRMED
    assert JournalEntry.objects.filter(group=group).count() == 1
    assert account_balance(group_id=group.id, kind=AccountKind.MEMBER_SAVINGS, member_id=member.id) == Decimal("800")
    assert_ledger_consistent(group)


def test_system_confirm_fills_an_empty_reference():
    group, _chair, member = group_with_member()
    contribution = _pending(group, member)
    confirmed = contribution_confirm(contribution_id=contribution.id, reference="QK12ABC")
    assert confirmed.reference_number == "QK12ABC"


def test_member_confirming_is_403_and_posts_nothing(make_client):
    group, _chair, member = group_with_member()
    contribution = _pending(group, member)
    before = snapshot()
    response = make_client(member).post(f"{URL}{contribution.id}/confirm/")
    assert response.status_code == 403
    assert snapshot() == before
    contribution.refresh_from_db()
    assert contribution.status == ContributionStatus.PENDING


def test_another_groups_official_gets_404_on_every_action(make_client):
    group, _chair, member = group_with_member()
    contribution = _pending(group, member)
    _other_group, other_chair, _ = group_with_member()
    client = make_client(other_chair)
    before = snapshot()
    for verb in ("confirm", "fail", "reverse", "reconcile"):
        assert client.post(f"{URL}{contribution.id}/{verb}/").status_code == 404
    assert client.get(f"{URL}{contribution.id}/").status_code == 404
    assert snapshot() == before


def test_fail_pending_and_not_a_confirmed_one(make_client):
    group, chair, member = group_with_member()
    contribution = _pending(group, member)
    client = make_client(chair)
    response = client.post(f"{URL}{contribution.id}/fail/", {"reason": "No money arrived"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "FAILED"
    assert client.post(f"{URL}{contribution.id}/confirm/").status_code == 409
    confirmed = _record(client, group, member=member.id).json()
    assert client.post(f"{URL}{confirmed['id']}/fail/").status_code == 409


def test_reverse_posts_the_mirror_and_brings_the_statement_back_to_zero(make_client):
    group, chair, member = group_with_member()
    client = make_client(chair)
    confirmed = _record(client, group, member=member.id, amount="2500").json()
    assert member_balances(group_id=group.id, member_id=member.id)[AccountKind.MEMBER_SAVINGS] == Decimal("2500")
    response = client.post(f"{URL}{confirmed['id']}/reverse/", {"reason": "bounced cheque"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "REVERSED"
    assert response.json()["reversed_at"] is not None
    assert member_balances(group_id=group.id, member_id=member.id)[AccountKind.MEMBER_SAVINGS] == 0
    assert account_balance(group_id=group.id, kind=AccountKind.CASH) == 0
    assert JournalEntry.objects.filter(group=group, kind=EntryKind.REVERSAL).count() == 1
    assert_ledger_consistent(group)
    pending = _pending(group, member)
    before = snapshot()
    assert client.post(f"{URL}{confirmed['id']}/reverse/").status_code == 409
    assert client.post(f"{URL}{pending.id}/reverse/").status_code == 409
    assert snapshot() == before


def test_reconcile_confirms_a_pending_one_and_marks_it(make_client):
    group, chair, member = group_with_member()
    contribution = _pending(group, member)
    client = make_client(chair)
    response = client.post(f"{URL}{contribution.id}/reconcile/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "CONFIRMED"
    assert body["reconciled_by"] == chair.id
    assert body["reconciled_at"] is not None
    assert JournalEntry.objects.filter(group=group).count() == 1
    # reconciling again keeps the first reconciliation and posts nothing
    assert client.post(f"{URL}{contribution.id}/reconcile/").json()["reconciled_at"] == body["reconciled_at"]
    assert JournalEntry.objects.filter(group=group).count() == 1
    assert make_client(member).post(f"{URL}{contribution.id}/reconcile/").status_code == 403


def test_reconcile_of_a_failed_contribution_is_409(make_client):
    group, chair, member = group_with_member()
    contribution = _pending(group, member)
    client = make_client(chair)
    client.post(f"{URL}{contribution.id}/fail/")
    assert client.post(f"{URL}{contribution.id}/reconcile/").status_code == 409


# --- list, filters, scoping, export ---------------------------------------------------------------------------


def test_member_sees_own_official_sees_group_outsider_sees_nothing(make_client):
    group, chair, member = group_with_member()
    other = add_member(group).user
    mine = _pending(group, member)
    theirs = _pending(group, other)
    other_group, _other_chair, other_member = group_with_member()
    foreign = _pending(other_group, other_member)

    member_ids = {row["id"] for row in make_client(member).get(URL).json()["results"]}
    assert member_ids == {mine.id}
    chair_ids = {row["id"] for row in make_client(chair).get(URL).json()["results"]}
    assert chair_ids == {mine.id, theirs.id}
    assert foreign.id not in chair_ids
    assert make_client(UserFactory()).get(URL).json()["count"] == 0
    assert make_client(member).get(f"{URL}{theirs.id}/").status_code == 404
    assert make_client(member).get(f"{URL}{mine.id}/").status_code == 200


def test_legacy_status_values_and_filters(make_client):
    group, chair, member = group_with_member()
    client = make_client(chair)
    confirmed = _record(client, group, member=member.id, payment_method="BANK", reference_number="B-1").json()
    old = _record(
        client, group, member=member.id, paid_at=(timezone.now() - timedelta(days=30)).isoformat(), notes="old one"
    ).json()
    pending = _pending(group, member)

    def ids(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="COMPLETED") == {confirmed["id"], old["id"]}
    assert ids(status="RECONCILED") == {confirmed["id"], old["id"]}
    assert ids(status="PENDING") == {pending.id}
    assert ids(payment_method="BANK") == {confirmed["id"]}
    assert ids(member=member.id, group=group.id) == {confirmed["id"], old["id"], pending.id}
    today = timezone.localdate().isoformat()
    assert ids(date_from=today) == {confirmed["id"], pending.id}
    assert ids(date_to=(timezone.localdate() - timedelta(days=1)).isoformat()) == {old["id"]}
    assert ids(search="B-1") == {confirmed["id"]}
    assert ids(search="old one") == {old["id"]}
    assert ids(period=old["period"]) >= {old["id"]}
    amounts = [row["amount"] for row in client.get(URL, {"ordering": "amount"}).json()["results"]]
    assert amounts == sorted(amounts, key=Decimal)
    assert client.get(URL, {"status": "NOPE"}).status_code == 400


def test_export_is_csv_for_officials_and_respects_filters(make_client):
    group, chair, member = group_with_member()
    client = make_client(chair)
    _record(client, group, member=member.id, reference_number="CSV-1", amount="700")
    _pending(group, member)
    response = client.get(f"{URL}export/", {"status": "COMPLETED"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="contributions_')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "ID",
        "Group",
        "Member",
        "Amount (KES)",
        "Payment Method",
        "Reference Number",
        "Status",
        "Reconciled By",
        "Reconciled At",
        "Notes",
        "Created At",
        "Updated At",
    ]
    assert len(rows) == 2
    assert rows[1][5] == "CSV-1"
    assert rows[1][3] == "700.00"
    csv_accept = client.get(f"{URL}export/", HTTP_ACCEPT="text/csv")
    assert csv_accept.status_code == 200


def test_export_is_refused_to_plain_members_and_other_groups(make_client):
    group, _chair, member = group_with_member()
    assert make_client(member).get(f"{URL}export/").status_code == 403
    assert make_client(member).get(f"{URL}export/", {"group": group.id}).status_code == 403
    _other, other_chair, _ = group_with_member()
    assert make_client(other_chair).get(f"{URL}export/", {"group": group.id}).status_code == 404


def test_list_query_count_does_not_grow_with_rows(make_client):
    group, chair, _member = group_with_member()
    members = [add_member(group).user for _ in range(5)]

    def add(n):
        for i in range(n):
            contribution_record(
                actor=chair,
                group_id=group.id,
                amount=Decimal("100"),
                payment_method="CASH",
                member_id=members[i % 5].id,
            )

    client = make_client(chair)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL, {"page_size": 100})
        assert response.status_code == 200
        return len(ctx.captured_queries), response.json()["count"]

    add(5)
    small, rows = count()
    assert rows == 5
    add(20)
    large, rows = count()
    assert rows == 25
    assert small == large


def test_officials_other_than_the_chair_can_confirm(make_client):
    group, _chair, member = group_with_member()
    treasurer = add_member(group, role=Role.TREASURER).user
    contribution = _pending(group, member)
    assert make_client(treasurer).post(f"{URL}{contribution.id}/confirm/").status_code == 200


# --- schedule ----------------------------------------------------------------------------------------------------


def test_schedule_shows_expected_paid_and_arrears_per_period(make_client):
    from finance.tests.contribution_helpers import backdate_join, months_back

    today = timezone.localdate()
    start = months_back(today, 2)
    group, chair, member = group_with_member(cycle_start_date=start, contribution_amount=Decimal("1000.00"))
    backdate_join(group, member, start)
    client = make_client(chair)
    _record(client, group, member=member.id, amount="1000", paid_at=aware(start).isoformat())
    _record(client, group, member=member.id, amount="400", paid_at=aware(months_back(today, 1)).isoformat())
    _pending(group, member)  # pending money is not "paid"

    response = make_client(member).get(f"{URL}schedule/", {"group": group.id})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["contribution_frequency"] == "MONTHLY"
    [schedule] = body["members"]
    assert schedule["member"] == member.id
    periods = schedule["periods"]
    assert [p["period_start"] for p in periods] == [
        start.isoformat(),
        months_back(today, 1).isoformat(),
        today.replace(day=1).isoformat(),
    ]
    assert [p["paid"] for p in periods] == ["1000.00", "400.00", "0.00"]
    assert [p["arrears"] for p in periods] == ["0.00", "600.00", "1000.00"]
    assert [p["is_past_due"] for p in periods] == [True, True, False]
    assert periods[0]["due_date"] == (months_back(today, 1) - timedelta(days=1)).isoformat()
    assert schedule["totals"] == {
        "expected": "3000.00",
        "paid": "1400.00",
        "arrears": "1600.00",
        "fines_outstanding": "0.00",
    }

    official_view = client.get(f"{URL}schedule/", {"group": group.id}).json()
    assert {m["member"] for m in official_view["members"]} == {chair.id, member.id}
    only = client.get(f"{URL}schedule/", {"group": group.id, "member": member.id}).json()
    assert [m["member"] for m in only["members"]] == [member.id]


def test_schedule_scoping(make_client):
    group, chair, member = group_with_member()
    assert make_client(member).get(f"{URL}schedule/", {"group": group.id, "member": chair.id}).status_code == 403
    assert make_client(UserFactory()).get(f"{URL}schedule/", {"group": group.id}).status_code == 404
    assert make_client(member).get(f"{URL}schedule/").status_code == 400
