"""
Reads for investments, scoped to the caller's ACTIVE groups (anything else answers 404).

Portfolio figures are aggregated from the investments, never typed in: `portfolio_figures` computes
them for a whole page of portfolios in one aggregate query.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from chamahub.exceptions import NotFound
from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, ZERO, split_pro_rata, to_money
from groups.selectors import active_group_ids
from investments.choices import InvestmentStatus, InvestmentType
from investments.models import Investment, InvestmentTransaction, Portfolio, StockHolding

_MONEY = DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
PERCENT = Decimal("0.01")
HUNDRED = Decimal("100")
DIVERSIFICATION_LIMIT = Decimal("60")

# Asset classes of a portfolio, as the first web client names its percentages.
ASSET_CLASSES: dict[str, tuple[str, ...]] = {
    "stocks": (InvestmentType.EQUITY, InvestmentType.STOCKS),
    "bonds": (InvestmentType.TREASURY_BOND, InvestmentType.BONDS, InvestmentType.TREASURY_BILL),
    "real_estate": (InvestmentType.REAL_ESTATE,),
    "cash": (InvestmentType.MONEY_MARKET, InvestmentType.FIXED_DEPOSIT),
    "other": (InvestmentType.SACCO_SHARES, InvestmentType.OTHER),
}
_CLASS_OF = {t: cls for cls, types in ASSET_CLASSES.items() for t in types}


def percent(part: Decimal, whole: Decimal) -> Decimal:
    """part / whole × 100 to 2 dp (0 when whole is 0)."""
    if not whole:
        return Decimal("0.00")
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(PERCENT, rounding=ROUND_HALF_UP)


def _income_subquery(*, since=None) -> Subquery:
    """Σ income_amount of an investment's transactions (dividends, interest, realised gains/losses)."""
    txns = InvestmentTransaction.objects.filter(investment_id=OuterRef("pk"))
    if since is not None:
        txns = txns.filter(transaction_date__gte=since)
    return Subquery(
        txns.order_by().values("investment_id").annotate(total=Sum("income_amount")).values("total")[:1],
        output_field=_MONEY,
    )


# --- investments -----------------------------------------------------------------------------------


def investment_list(*, user) -> QuerySet[Investment]:
    """The caller's groups' investments, each annotated with `returns` (income received, realised gains)."""
    return (
        Investment.objects.filter(group_id__in=active_group_ids(user))
        .select_related("stock_holding")
        .annotate(returns=Coalesce(_income_subquery(), Value(ZERO), output_field=_MONEY))
    )


def investment_get(*, user, investment_id, field: str | None = None) -> Investment:
    """A visible investment, or 404 (optionally as a field error)."""
    try:
        investment = investment_list(user=user).filter(pk=int(investment_id)).first()
    except (TypeError, ValueError):
        investment = None
    if investment is None:
        if field:
            raise NotFound("Investment not found.", fields={field: ["Investment not found."]})
        raise NotFound("Investment not found.")
    return investment


def investment_transaction_list(*, user) -> QuerySet[InvestmentTransaction]:
    return InvestmentTransaction.objects.filter(group_id__in=active_group_ids(user)).select_related("investment")


def stock_holding_list(*, user) -> QuerySet[StockHolding]:
    return StockHolding.objects.filter(group_id__in=active_group_ids(user)).select_related("investment")


def portfolio_list(*, user) -> QuerySet[Portfolio]:
    """The default portfolio ("Main portfolio") of each group comes first."""
    return Portfolio.objects.filter(group_id__in=active_group_ids(user)).order_by("group_id", "-is_default", "name")


# --- portfolio figures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PortfolioFigures:
    total_invested: Decimal
    current_value: Decimal
    total_return: Decimal
    total_return_percentage: Decimal
    stocks_percentage: Decimal
    bonds_percentage: Decimal
    real_estate_percentage: Decimal
    cash_percentage: Decimal
    other_percentage: Decimal
    is_diversified: bool
    ytd_return: Decimal
    investment_count: int


def _figures(*, invested: Decimal, value: Decimal, by_class: dict[str, Decimal], ytd_income: Decimal, count: int):
    shares = split_pro_rata(HUNDRED, by_class, order=list(ASSET_CLASSES)) if value > 0 else {}
    pct = {cls: shares.get(cls, Decimal("0.00")) for cls in ASSET_CLASSES}
    total_return = value - invested
    return PortfolioFigures(
        total_invested=invested,
        current_value=value,
        total_return=total_return,
        total_return_percentage=percent(total_return, invested),
        stocks_percentage=pct["stocks"],
        bonds_percentage=pct["bonds"],
        real_estate_percentage=pct["real_estate"],
        cash_percentage=pct["cash"],
        other_percentage=pct["other"],
        is_diversified=value > 0 and all(p <= DIVERSIFICATION_LIMIT for p in pct.values()),
        ytd_return=percent(ytd_income, invested),
        investment_count=count,
    )


def portfolio_figures(*, portfolios: list[Portfolio]) -> dict[int, PortfolioFigures]:
    """
    Figures of each portfolio, in ONE aggregate query however many portfolios are asked for:
    - total_invested = Σ principal (cost) and current_value = Σ current value of its ACTIVE investments;
    - total_return = current_value − total_invested, total_return_percentage = that ÷ total_invested;
    - <class>_percentage = the class's share of current_value (the five always sum to 100.00);
    - is_diversified = it holds something and no class is above 60%;
    - ytd_return = income recognised this calendar year (dividends, interest, realised gains, on any
      of its investments, sold ones included) ÷ total_invested, in percent.
    Investments without a portfolio count toward their group's default portfolio.
    """
    if not portfolios:
        return {}
    ids = [p.pk for p in portfolios]
    default_of_group = {p.group_id: p.pk for p in portfolios if p.is_default}
    year_start = timezone.localdate().replace(month=1, day=1)
    active = Q(status=InvestmentStatus.ACTIVE)
    rows = (
        Investment.objects.filter(Q(portfolio_id__in=ids) | Q(portfolio__isnull=True, group_id__in=default_of_group))
        .values("portfolio_id", "group_id", "investment_type")
        .annotate(
            invested=Sum("principal_amount", filter=active),
            value=Sum("current_value", filter=active),
            ytd_income=Sum(_income_subquery(since=year_start)),
            count=Count("pk", filter=active),
        )
        .order_by()
    )
    totals: dict[int, dict] = {
        pid: {"invested": ZERO, "value": ZERO, "ytd": ZERO, "count": 0, "by_class": {c: ZERO for c in ASSET_CLASSES}}
        for pid in ids
    }
    for row in rows:
        pid = row["portfolio_id"] or default_of_group.get(row["group_id"])
        if pid not in totals:
            continue
        t = totals[pid]
        value = to_money(row["value"] or ZERO)
        t["invested"] += to_money(row["invested"] or ZERO)
        t["value"] += value
        t["ytd"] += to_money(row["ytd_income"] or ZERO)
        t["count"] += row["count"] or 0
        t["by_class"][_CLASS_OF.get(row["investment_type"], "other")] += value
    return {
        pid: _figures(
            invested=t["invested"], value=t["value"], by_class=t["by_class"], ytd_income=t["ytd"], count=t["count"]
        )
        for pid, t in totals.items()
    }


# --- provider support ------------------------------------------------------------------------------


def investments_summary(*, group_ids: list[int]) -> dict[int, dict[str, Decimal]]:
    """{gid: {"total_investments": Σ current value of ACTIVE investments, "invested_cost": Σ principal}}, 1 query."""
    out = {gid: {"total_investments": ZERO, "invested_cost": ZERO} for gid in group_ids}
    rows = (
        Investment.objects.filter(group_id__in=group_ids, status=InvestmentStatus.ACTIVE)
        .values("group_id")
        .annotate(value=Sum("current_value"), cost=Sum("principal_amount"))
        .order_by()
    )
    for row in rows:
        out[row["group_id"]] = {
            "total_investments": to_money(row["value"] or ZERO),
            "invested_cost": to_money(row["cost"] or ZERO),
        }
    return out
