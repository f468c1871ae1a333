"""Account Balance through the API: staff ask, the simulator's Result arrives over HTTP, the balances are shown."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from finance.tests.loan_fixtures import make_chama
from mpesa_integration.models import CallbackLog

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/mpesa/account-balance/"


def test_staff_ask_for_the_b2c_balance_and_see_the_answer(daraja, make_client):
    staff = make_client(UserFactory(is_staff=True))
    assert all(row["accounts"] is None for row in staff.get(URL).json())

    asked = staff.post(URL, {"account": "b2c"}, format="json")

    assert asked.status_code == 202, asked.content
    assert asked.json()["shortcode"] == daraja.server.b2c_shortcode
    daraja.wait_sent(1, timeout=10)
    rows = {row["account"]: row for row in staff.get(URL).json()}
    utility = rows["b2c"]["accounts"]["Utility Account"]
    assert utility["currency"] == "KES" and utility["available"]
    assert rows["c2b"]["accounts"] is None
    assert CallbackLog.objects.get().outcome == "processed"


def test_only_staff_may_see_or_ask(daraja, make_client):
    official = make_client(make_chama().chair)

    assert official.get(URL).status_code == 403
    assert official.post(URL, {"account": "b2c"}, format="json").status_code == 403
    assert make_client(UserFactory(is_staff=True)).post(URL, {"account": "bank"}, format="json").status_code == 400


def test_a_balance_result_nobody_asked_for_is_an_orphan(api_client, settings):
    body = {
        "Result": {
            "ResultType": 0,
            "ResultCode": 0,
            "ResultDesc": "ok",
            "OriginatorConversationID": "never-asked",
            "ConversationID": "AG_1",
            "TransactionID": "SL00000000",
            "ResultParameters": {
                "ResultParameter": [{"Key": "AccountBalance", "Value": "Utility Account|KES|1|1|0|0"}]
            },
        }
    }
    response = api_client.post(
        f"/api/v1/mpesa/callbacks/{settings.MPESA_CALLBACK_SECRET}/balance/result/", body, format="json"
    )

    assert response.status_code == 200
    assert CallbackLog.objects.get().outcome == "orphan"
