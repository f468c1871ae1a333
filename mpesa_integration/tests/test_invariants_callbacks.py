"""
Property: whatever order, repetition and mix of results M-Pesa sends for a set of pushes, each receipt is posted
exactly once, a success is never undone by a later failure, the first definitive result decides the contribution,
and the books balance.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance.choices import AccountKind, ContributionStatus
from finance.models import Contribution, JournalEntry
from finance.selectors.ledger import account_balance, trial_balance
from finance.tests.loan_fixtures import make_chama
from mpesa_integration.choices import Settlement, TransactionStatus
from mpesa_integration.models import MPesaTransaction
from mpesa_integration.services.callbacks import callback_log_store, stk_callback_process
from mpesa_integration.services.settlement import pay_in_target_attach
from mpesa_integration.tests.helpers import stk_body

pytestmark = pytest.mark.django_db

PUSHES = 3
FAILURE_STATUS = {"1032": TransactionStatus.CANCELLED, "1": TransactionStatus.FAILED, "1037": TransactionStatus.FAILED}
_run = itertools.count()


@pytest.fixture(scope="module")
def chama_ids(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        chama = make_chama()
        yield chama.group.id, chama.member.id


callbacks = st.lists(
    st.tuples(st.integers(0, PUSHES - 1), st.sampled_from(["0", "0", "1032", "1", "1037"])), max_size=12
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=callbacks)
def test_any_sequence_of_callbacks_posts_each_receipt_once(chama_ids, events):
    group_id, member_id = chama_ids
    run = next(_run)
    suspense_before = account_balance(group_id=group_id, kind=AccountKind.SUSPENSE)
    txns = []
    for i in range(PUSHES):
        txn = MPesaTransaction(
            kind="stk", group_id=group_id, member_id=member_id, initiated_by_id=member_id, amount=Decimal(100 + i),
            phone="254708374149", checkout_request_id=f"ws_CO_P{run}_{i}", merchant_request_id=f"P{run}-{i}",
            status=TransactionStatus.ACCEPTED,
        )  # fmt: skip
        pay_in_target_attach(txn, purpose="contribution", target_id=None, member_id=member_id)
        txn.save()
        txns.append(txn)

    for i, code in events:
        body = stk_body(txns[i], code=int(code), receipt=f"SP{run:04d}X{i:03d}")
        log = callback_log_store(kind="stk", raw=json.dumps(body).encode(), body=body, remote_addr=None)
        stk_callback_process(log_id=log.id)

    suspended = Decimal("0")
    for i, txn in enumerate(txns):
        txn.refresh_from_db()
        codes = [code for j, code in events if j == i]
        receipt = f"SP{run:04d}X{i:03d}"
        assert JournalEntry.objects.filter(group_id=group_id, reference=receipt).count() == (1 if "0" in codes else 0)
        contribution = Contribution.objects.get(pk=txn.contribution_id)
        if not codes:
            assert txn.status == TransactionStatus.ACCEPTED and contribution.status == ContributionStatus.PENDING
        elif codes[0] == "0":  # success first: later failures change nothing
            assert txn.status == TransactionStatus.SUCCEEDED and txn.settlement == Settlement.POSTED
            assert contribution.status == ContributionStatus.CONFIRMED and txn.receipt_number == receipt
        elif "0" in codes:  # a failure first, then M-Pesa reported the money: kept, in suspense
            assert txn.status == TransactionStatus.SUCCEEDED and txn.settlement == Settlement.SUSPENSE
            assert contribution.status == ContributionStatus.FAILED
            suspended += txn.amount
        else:
            assert txn.status == FAILURE_STATUS[codes[0]] and contribution.status == ContributionStatus.FAILED
    assert account_balance(group_id=group_id, kind=AccountKind.SUSPENSE) - suspense_before == suspended
    assert trial_balance(group_id=group_id) == 0
