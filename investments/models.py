"""Group investments. Cash movements (buy, sell, dividend, interest, maturity) post to the finance ledger."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from chamahub.models import TimeStampedModel
from chamahub.money import CENT, MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from investments.choices import InvestmentStatus, InvestmentTransactionType, InvestmentType

_money = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_DECIMAL_PLACES}


class Portfolio(TimeStampedModel):
    """A named grouping of a group's investments; its figures are aggregated from them, never typed in."""

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(
        default=False, help_text="The group's 'Main portfolio': holds every investment not placed in another one."
    )
    last_rebalance_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-is_default", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="portfolio_unique_name_per_group"),
            models.UniqueConstraint(
                fields=["group"], condition=Q(is_default=True), name="portfolio_one_default_per_group"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Investment(TimeStampedModel):
    """
    One holding of the group (a fund, a bill, a deposit, shares...). `principal_amount` is its cost in the
    ledger's INVESTMENTS account; both it and `current_value` change only through InvestmentTransactions.
    """

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.SET_NULL, null=True, blank=True, related_name="investments"
    )
    investment_type = models.CharField(max_length=20, choices=InvestmentType.choices)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    principal_amount = models.DecimalField(**_money, help_text="Cost: cash paid in, net of redemptions at cost.")
    current_value = models.DecimalField(**_money, help_text="Latest valuation.")
    expected_return_rate = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal("0"))
    purchase_date = models.DateField()
    maturity_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=InvestmentStatus.choices, default=InvestmentStatus.ACTIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-purchase_date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(principal_amount__gte=0), name="investment_principal_non_negative"),
            models.CheckConstraint(condition=Q(current_value__gte=0), name="investment_value_non_negative"),
        ]
        indexes = [models.Index(fields=["group", "status"], name="investment_group_status_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def profit_loss(self) -> Decimal:
        """Unrealised gain (+) or loss (−): current value − cost."""
        return self.current_value - self.principal_amount

    @property
    def roi(self) -> Decimal:
        """profit_loss as a percentage of the cost, 2 dp (0 once nothing is held)."""
        if not self.principal_amount:
            return Decimal("0.00")
        return (self.profit_loss * 100 / self.principal_amount).quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def expected_return(self) -> Decimal:
        """principal × rate/100 × years from purchase to maturity (one year when there is no maturity date)."""
        years = Decimal(1)
        if self.maturity_date is not None:
            years = Decimal((self.maturity_date - self.purchase_date).days) / Decimal(365)
        amount = self.principal_amount * self.expected_return_rate / 100 * years
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)


class StockHolding(TimeStampedModel):
    """Shares of a listed company held by the group (e.g. on the NSE), linked to its EQUITY investment."""

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    investment = models.OneToOneField(
        Investment, on_delete=models.PROTECT, null=True, blank=True, related_name="stock_holding"
    )
    stock_symbol = models.CharField(max_length=10)
    stock_name = models.CharField(max_length=200)
    exchange = models.CharField(max_length=50, default="NSE")
    shares_quantity = models.PositiveIntegerField()
    purchase_price_per_share = models.DecimalField(max_digits=12, decimal_places=2)
    current_price_per_share = models.DecimalField(max_digits=12, decimal_places=2)
    cdsc_account_number = models.CharField(max_length=50, blank=True)
    purchase_date = models.DateField()
    last_price_update = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-purchase_date", "-id"]
        constraints = [
            # One open holding per symbol; a sold-out one (0 shares) may be followed by a new holding.
            models.UniqueConstraint(
                fields=["group", "stock_symbol", "exchange"],
                condition=Q(shares_quantity__gt=0),
                name="holding_unique_open_symbol",
            ),
            models.CheckConstraint(condition=Q(purchase_price_per_share__gt=0), name="holding_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.stock_symbol} x{self.shares_quantity}"

    @property
    def total_purchase_value(self) -> Decimal:
        """What the shares still held cost (the linked investment's principal)."""
        if self.investment is not None:
            return self.investment.principal_amount
        return (self.shares_quantity * self.purchase_price_per_share).quantize(CENT)

    @property
    def current_total_value(self) -> Decimal:
        if self.investment is not None:
            return self.investment.current_value
        return (self.shares_quantity * self.current_price_per_share).quantize(CENT)

    @property
    def profit_loss(self) -> Decimal:
        return self.current_total_value - self.total_purchase_value

    @property
    def profit_loss_percentage(self) -> Decimal:
        if not self.total_purchase_value:
            return Decimal("0.00")
        return (self.profit_loss * 100 / self.total_purchase_value).quantize(CENT, rounding=ROUND_HALF_UP)


class InvestmentTransaction(TimeStampedModel):
    """
    An immutable event in an investment's life. Cash movements link the one journal entry they posted;
    a correction is a new transaction, never an edit. `principal_change` is the signed change in cost
    (+ on a buy, − the cost released on a sale); `income_amount` the income recognised (dividend,
    interest, or the realised gain — negative for a loss — of a sale or maturity).
    """

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    investment = models.ForeignKey(Investment, on_delete=models.PROTECT, related_name="transactions")
    transaction_type = models.CharField(max_length=12, choices=InvestmentTransactionType.choices)
    amount = models.DecimalField(**_money, help_text="Cash amount (or new value, for a valuation).")
    quantity = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    price_per_unit = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    transaction_date = models.DateField()
    reference_number = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)
    principal_change = models.DecimalField(**_money, default=Decimal("0.00"))
    income_amount = models.DecimalField(**_money, default=Decimal("0.00"))
    journal_entry = models.OneToOneField(
        "finance.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["-transaction_date", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="investment_txn_amount_positive")]
        indexes = [models.Index(fields=["investment", "transaction_type"], name="investment_txn_type_idx")]

    def __str__(self) -> str:
        return f"{self.transaction_type} {self.amount}"
