from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from finance.choices import LoanStatus
from finance.models import Contribution, Expense, Loan, Posting
from finance.selectors.ledger import trial_balance
from groups.models import ChamaGroup, Membership
from investments.models import Investment

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_balanced_books_and_is_idempotent():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Demo logins" in out.getvalue()
    groups = list(ChamaGroup.objects.filter(code__startswith="DEMO"))
    assert len(groups) == 3
    assert Membership.objects.filter(group__in=groups).values("user").distinct().count() == 30
    assert Contribution.objects.count() > 300
    assert set(Counter(Loan.objects.values_list("status", flat=True))) == set(LoanStatus.values)
    assert Expense.objects.exists() and Investment.objects.exists()
    for group in groups:
        assert trial_balance(group_id=group.id) == 0
    counts = (Contribution.objects.count(), Posting.objects.count(), Loan.objects.count())

    call_command("seed_demo", stdout=StringIO())
    assert (Contribution.objects.count(), Posting.objects.count(), Loan.objects.count()) == counts
