"""Disbursement approvals and signatures (maker-checker) through the API."""

from __future__ import annotations

import pytest

from finance.models import ApprovalSignature, DisbursementApproval
from finance.services.approvals import approval_sign
from finance.services.expenses import expense_create
from finance.tests.loan_fixtures import (
    APPROVALS,
    SIGNATURES,
    D,
    count_queries,
    events_named,
    fresh,
    loan_rows_snapshot,
    make_chama,
    outsider,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def chama():
    return make_chama()


def _expense_approval(chama, requester=None) -> DisbursementApproval:
    expense = expense_create(
        group_id=chama.group.id,
        requested_by=fresh(requester or chama.member),
        category="OPERATIONAL",
        description="Stationery",
        amount=D("250"),
    )
    return expense.approval


def _sign(client, approval, approved=True, comments=""):
    return client.post(SIGNATURES, {"approval": approval.id, "approved": approved, "comments": comments}, format="json")


def test_enough_official_signatures_approve_the_expense(make_client, chama):
    approval = _expense_approval(chama)
    r = _sign(make_client(chama.chair), approval, comments="fine")
    assert r.status_code == 201, r.json()
    assert (r.json()["approver"], r.json()["approved"], r.json()["comments"]) == (chama.chair.id, True, "fine")
    approval.refresh_from_db()
    assert (approval.status, approval.approvals_count) == ("PENDING", 1)
    assert _sign(make_client(chama.secretary), approval).status_code == 201
    approval.refresh_from_db()
    assert approval.status == "APPROVED" and approval.decided_at is not None
    assert approval.expense.status == "APPROVED"
    assert len(events_named("expense.approved")) == 1


def test_required_approvals_follow_the_groups_rule(make_client):
    chama = make_chama(required_approvals=3)
    approval = _expense_approval(chama)
    assert approval.required_approvals == 3
    for official in (chama.chair, chama.treasurer):
        _sign(make_client(official), approval)
    approval.refresh_from_db()
    assert approval.status == "PENDING"
    _sign(make_client(chama.secretary), approval)
    approval.refresh_from_db()
    assert approval.status == "APPROVED"


def test_one_rejection_rejects_the_request(make_client, chama):
    approval = _expense_approval(chama)
    _sign(make_client(chama.chair), approval)
    assert _sign(make_client(chama.treasurer), approval, approved=False).status_code == 201
    approval.refresh_from_db()
    assert approval.status == "REJECTED" and approval.expense.status == "REJECTED"
    before = loan_rows_snapshot()
    r = _sign(make_client(chama.secretary), approval)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    assert loan_rows_snapshot() == before


def test_a_plain_member_cannot_sign(make_client, chama):
    approval = _expense_approval(chama, requester=chama.chair)
    before = loan_rows_snapshot()
    r = _sign(make_client(chama.guarantor), approval)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert loan_rows_snapshot() == before


def test_an_outsider_signing_gets_404(make_client, chama):
    approval = _expense_approval(chama)
    client = make_client(outsider())
    before = loan_rows_snapshot()
    r = _sign(client, approval)
    assert r.status_code == 404 and "approval" in r.json()["fields"]
    assert client.post(SIGNATURES, {"approval": 999999, "approved": True}, format="json").status_code == 404
    assert loan_rows_snapshot() == before


def test_nobody_approves_their_own_expense(make_client, chama):
    approval = _expense_approval(chama, requester=chama.treasurer)
    before = loan_rows_snapshot()
    r = _sign(make_client(chama.treasurer), approval)
    assert r.status_code == 403 and r.json()["code"] == "self_approval"
    assert "approval" in r.json()["fields"]
    assert loan_rows_snapshot() == before


def test_an_official_signs_once(make_client, chama):
    approval = _expense_approval(chama)
    chair = make_client(chama.chair)
    assert _sign(chair, approval).status_code == 201
    before = loan_rows_snapshot()
    r = _sign(chair, approval, approved=False)
    assert r.status_code == 409 and r.json()["code"] == "already_signed"
    assert loan_rows_snapshot() == before
    approval.refresh_from_db()
    assert (approval.status, approval.approvals_count) == ("PENDING", 1)


def test_bad_signature_input_is_400(make_client, chama):
    r = make_client(chama.chair).post(SIGNATURES, {"approved": True}, format="json")
    assert r.status_code == 400 and "approval" in r.json()["fields"]


def test_officials_open_withdrawal_approvals(make_client, chama):
    body = {"group": chama.group.id, "approval_type": "WITHDRAWAL", "amount": "1500.00", "description": "Bank fees"}
    r = make_client(chama.treasurer).post(APPROVALS, body, format="json")
    assert r.status_code == 201, r.json()
    assert (r.json()["status"], r.json()["required_approvals"], r.json()["requested_by"]) == (
        "PENDING",
        2,
        chama.treasurer.id,
    )
    approval = DisbursementApproval.objects.get(pk=r.json()["id"])
    assert _sign(make_client(chama.treasurer), approval).json()["code"] == "self_approval"

    client_outsider = make_client(outsider())
    before = loan_rows_snapshot()
    assert make_client(chama.member).post(APPROVALS, body, format="json").status_code == 403
    r = make_client(chama.chair).post(APPROVALS, {**body, "approval_type": "LOAN"}, format="json")
    assert r.status_code == 400 and "approval_type" in r.json()["fields"]
    assert make_client(chama.chair).post(APPROVALS, {**body, "amount": "0"}, format="json").status_code == 400
    assert client_outsider.post(APPROVALS, body, format="json").status_code == 404
    assert loan_rows_snapshot() == before


def test_every_member_sees_the_groups_approvals_outsiders_get_404(make_client, chama):
    approval = _expense_approval(chama)
    approval_sign(approval_id=approval.id, approver=fresh(chama.chair), approved=True)
    member = make_client(chama.guarantor)
    body = member.get(f"{APPROVALS}{approval.id}/").json()
    assert body["approval_type"] == "EXPENSE" and body["expense"] == approval.expense_id
    assert [s["approver"] for s in body["signatures"]] == [chama.chair.id]
    assert member.get(f"{APPROVALS}?approval_type=EXPENSE&status=PENDING").json()["count"] == 1
    assert member.get(f"{APPROVALS}?approval_type=LOAN").json()["count"] == 0
    assert member.get(SIGNATURES).json()["count"] == 1

    client = make_client(outsider())
    signature = ApprovalSignature.objects.get()
    assert client.get(APPROVALS).json()["count"] == 0
    assert client.get(SIGNATURES).json()["count"] == 0
    assert client.get(f"{APPROVALS}{approval.id}/").status_code == 404
    assert client.get(f"{SIGNATURES}{signature.id}/").status_code == 404


def test_approval_and_signature_lists_query_counts_do_not_grow(make_client, chama):
    def add(n):
        for _ in range(n):
            approval = _expense_approval(chama)
            approval_sign(approval_id=approval.id, approver=fresh(chama.chair), approved=True)

    client = make_client(chama.member)
    add(5)
    small_a, body_a = count_queries(client, f"{APPROVALS}?page_size=100")
    small_s, body_s = count_queries(client, f"{SIGNATURES}?page_size=100")
    assert body_a["count"] == body_s["count"] == 5
    add(20)
    large_a, body_a = count_queries(client, f"{APPROVALS}?page_size=100")
    large_s, body_s = count_queries(client, f"{SIGNATURES}?page_size=100")
    assert body_a["count"] == body_s["count"] == 25
    assert (small_a, small_s) == (large_a, large_s)


def test_huge_or_negative_ids_are_a_clean_4xx(make_client, chama):
    client = make_client(chama.chair)
    for value in (2**70, -1, 0):
        r = client.post(SIGNATURES, {"approval": value, "approved": True}, format="json")
        assert r.status_code == 400 and "approval" in r.json()["fields"]
    assert client.get(f"{APPROVALS}{2**70}/").status_code == 404
    assert client.get(f"/api/v1/finance/loans/{2**70}/").status_code == 404
