"""
The permission matrix (issue #2, section 11): for every list and detail route under /api/v1/, a member —
here an official, the strongest outsider — of another group gets 404 (or 403) on the first group's objects,
nothing is written, and no list contains another group's rows.

Two demo chamas are built through the real services (seed_demo), so every route has real objects to aim at.
Routes are discovered from the URL resolver: a new route is covered without editing this file.
"""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from chamahub.tests.support import api_routes
from finance.models import DisbursementApproval, Loan
from groups.choices import Role
from groups.models import ChamaGroup, Membership
from investments.models import Investment

pytestmark = pytest.mark.django_db

GROUP_A, GROUP_B = "DEMOTUJ", "DEMOUMJ"  # A has every kind of object (incl. stock holdings)
# Routes that are about the caller themselves, not about group objects.
SELF_ROUTES = {"user-list", "user-detail", "user-me", "wallet-my-wallet"}
WRITE_OK = {"user-change-password", "user-logout", "user-register"}  # not group-scoped


def _snapshot() -> dict[str, tuple[int, int]]:
    """Row count and max id of every table of the domain apps: a write anywhere changes it."""
    out = {}
    for label in ("accounts", "groups", "finance", "investments", "mpesa_integration", "chamahub"):
        for model in apps.get_app_config(label).get_models():
            qs = model.objects.all()
            out[model._meta.label] = (qs.count(), qs.order_by("-pk").values_list("pk", flat=True).first() or 0)
    return out


@pytest.fixture
def world(make_client):
    call_command("seed_demo", stdout=StringIO())
    a = ChamaGroup.objects.get(code=GROUP_A)
    b = ChamaGroup.objects.get(code=GROUP_B)
    chair_a = Membership.objects.get(group=a, role=Role.CHAIRPERSON).user
    outsider = Membership.objects.get(group=b, role=Role.CHAIRPERSON).user
    insider = make_client(chair_a)
    # Objects the seed does not make: an invitation and a share-out in A.
    invited = insider.post("/api/v1/groups/invitations/", {"group": a.id, "phone_number": "0722000111"}, format="json")
    assert invited.status_code == 201, invited.content
    shared = insider.post(
        "/api/v1/finance/share-outs/",
        {"group": a.id, "cycle_start": str(a.cycle_start_date), "cycle_end": str(timezone.localdate())},
        format="json",
    )
    assert shared.status_code == 201, shared.content
    return {"a": a, "b": b, "insider": insider, "outsider": make_client(outsider), "a_names": _a_names(a)}


def _a_names(group) -> set[str]:
    names = {group.name, group.code}
    for m in Membership.objects.filter(group=group).select_related("user"):
        names.add(m.user.phone_number)
    return names


def _fill(path: str, object_id) -> str:
    return re.sub(r"\(\?P<\w+>[^)]+\)", str(object_id), path)


def _first_id(client, list_path: str, group_id: int):
    response = client.get(list_path, {"group": group_id})
    if response.status_code != 200:
        return None
    body = response.json()
    rows = body.get("results", body) if isinstance(body, dict) else body
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("group", group_id) == group_id:
            return row.get("id") or row.get("group")
    return None


def test_outsider_lists_never_contain_another_groups_rows(world):
    leaks = []
    for name, path, actions, detail in api_routes():
        if detail or "get" not in actions or name in SELF_ROUTES:
            continue
        for params in ({}, {"group": world["a"].id}):
            response = world["outsider"].get(path, params)
            if response.status_code >= 500:
                leaks.append(f"{name} {params}: HTTP {response.status_code}")
            if response.status_code != 200:
                continue  # 400 (a required parameter), 403, 404: nothing shown
            raw = b"".join(response.streaming_content) if response.streaming else response.content
            text = raw.decode()
            if "json" in response.get("Content-Type", ""):
                body = json.loads(text)
                rows = body.get("results", body) if isinstance(body, dict) else body
                for row in rows if isinstance(rows, list) else [body]:
                    if isinstance(row, dict) and row.get("group") == world["a"].id:
                        leaks.append(f"{name} {params}: row of group A: {row}")
            for needle in world["a_names"]:
                if needle in text:
                    leaks.append(f"{name} {params}: mentions {needle!r}")
    assert not leaks, "\n".join(leaks)


def test_outsider_gets_404_or_403_on_every_detail_route_and_writes_nothing(world):
    routes = api_routes()
    list_paths = {name.rsplit("-", 1)[0]: path for name, path, actions, detail in routes if name.endswith("-list")}
    problems, checked = [], 0
    for name, path, actions, detail in routes:
        if not detail or name in SELF_ROUTES or name in WRITE_OK:
            continue
        basename = name.rsplit("-", 1)[0] if not name.endswith("-detail") else name[: -len("-detail")]
        candidates = [b for b in list_paths if name.startswith(b + "-")]
        basename = max(candidates, key=len) if candidates else basename
        object_id = _first_id(world["insider"], list_paths.get(basename, ""), world["a"].id)
        if object_id is None:
            problems.append(f"{name}: no object of group A found to aim at")
            continue
        url = _fill(path, object_id)
        for method in list(actions):
            before = _snapshot()
            response = getattr(world["outsider"], method)(url, {}, format="json")
            checked += 1
            if response.status_code not in (403, 404, 405):
                problems.append(
                    f"{method.upper()} {url} ({name}): HTTP {response.status_code} {response.content[:200]!r}"
                )
            if _snapshot() != before:
                problems.append(f"{method.upper()} {url} ({name}): something was written")
    assert checked > 60
    assert not problems, "\n".join(problems)


def test_outsider_cannot_create_anything_in_another_group(world):
    a = world["a"].id
    loan = Loan.objects.filter(group_id=a, status="ACTIVE").first()
    approval = DisbursementApproval.objects.filter(group_id=a, status="PENDING").first()
    investment = Investment.objects.filter(group_id=a).first()
    member = Membership.objects.filter(group_id=a, role=Role.MEMBER).first()
    creates = {
        "/api/v1/groups/memberships/": {"group": a, "user": member.user_id, "role": "MEMBER"},
        "/api/v1/groups/invitations/": {"group": a, "phone_number": "0733000222"},
        "/api/v1/groups/officials/": {"membership": member.id, "position": "SECRETARY"},
        "/api/v1/groups/goals/": {"group": a, "title": "x", "target_amount": "100.00", "target_date": "2030-01-01"},
        "/api/v1/groups/messages/": {"group": a, "content": "hello"},
        "/api/v1/finance/contributions/": {"group": a, "amount": "100.00", "payment_method": "CASH"},
        "/api/v1/finance/fines/": {"group": a, "member": member.user_id, "amount": "50.00", "reason": "late"},
        "/api/v1/finance/fines/charge_late/": {"group": a},
        "/api/v1/finance/share-outs/": {"group": a, "cycle_start": "2020-01-01", "cycle_end": "2020-12-31"},
        "/api/v1/finance/loans/": {"group": a, "principal_amount": "100.00", "duration_months": 3, "purpose": "x"},
        "/api/v1/finance/loan-repayments/": {"loan": loan.id, "amount": "10.00", "payment_method": "CASH"},
        "/api/v1/finance/expenses/": {"group": a, "category": "OTHER", "description": "x", "amount": "10.00"},
        "/api/v1/finance/disbursement-approvals/": {
            "group": a,
            "approval_type": "WITHDRAWAL",
            "amount": "10.00",
            "description": "x",
        },
        "/api/v1/finance/approval-signatures/": {"approval": approval.id, "approved": True},
        "/api/v1/investments/investments/": {
            "group": a,
            "investment_type": "OTHER",
            "name": "x",
            "principal_amount": "10.00",
            "purchase_date": "2026-01-01",
        },
        "/api/v1/investments/investment-transactions/": {
            "investment": investment.id,
            "transaction_type": "DIVIDEND",
            "amount": "10.00",
            "transaction_date": "2026-01-02",
        },
        "/api/v1/investments/stock-holdings/": {
            "group": a,
            "stock_symbol": "EQTY",
            "stock_name": "Equity",
            "shares_quantity": 10,
            "purchase_price_per_share": "40.00",
            "purchase_date": "2026-01-02",
        },
        "/api/v1/investments/portfolios/": {"group": a, "name": "Side bets"},
    }
    problems = []
    for url, body in creates.items():
        before = _snapshot()
        response = world["outsider"].post(url, body, format="json")
        if response.status_code not in (403, 404):
            problems.append(f"POST {url}: HTTP {response.status_code} {response.content[:200]!r}")
        if _snapshot() != before:
            problems.append(f"POST {url}: something was written")
    assert not problems, "\n".join(problems)
