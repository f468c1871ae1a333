"""Detail routes take database ids only: anything else is a plain 404, decided by the URL, never by the database."""

from __future__ import annotations

import pytest

from finance.tests.loan_fixtures import make_chama

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/finance/loans/{}/",
        "/api/v1/mpesa/transactions/{}/",
        "/api/v1/mpesa/bulk-payments/{}/approve/",
        "/api/v1/mpesa/reversals/{}/",
    ],
)
@pytest.mark.parametrize("object_id", ["abc", "1.5", "99999999999999999999999", "-1"])
def test_an_id_no_row_can_have_is_a_404(make_client, path, object_id):
    client = make_client(make_chama().chair)

    response = client.get(path.format(object_id)) if "approve" not in path else client.post(path.format(object_id))

    assert response.status_code == 404
