"""Group investments. Cash movements (buy, sell, dividend, interest, maturity) post to the finance ledger."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from chamahub.models import TimeStampedModel
from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from investments.choices import InvestmentStatus, InvestmentTransactionType, InvestmentType

_money = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_DECIMAL_PLACES}


class Portfolio(TimeStampedModel):
    """A named grouping of a group's investments; its figures are aggregated from them, never typed in."""

    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    last_rebalance_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["group", "name"], name="portfolio_unique_name_per_group")]

    def __str__(self) -> str:
        return self.name


class Investment(TimeStampedModel):
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
            models.UniqueConstraint(fields=["group", "stock_symbol", "exchange"], name="holding_unique_symbol"),
            models.CheckConstraint(condition=Q(purchase_price_per_share__gt=0), name="holding_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.stock_symbol} x{self.shares_quantity}"


class InvestmentTransaction(TimeStampedModel):
    group = models.ForeignKey("groups.ChamaGroup", on_delete=models.PROTECT, related_name="+")
    investment = models.ForeignKey(Investment, on_delete=models.PROTECT, related_name="transactions")
    transaction_type = models.CharField(max_length=12, choices=InvestmentTransactionType.choices)
    amount = models.DecimalField(**_money, help_text="Cash amount (or new value, for a valuation).")
    quantity = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    price_per_unit = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    transaction_date = models.DateField()
    reference_number = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)
    journal_entry = models.OneToOneField(
        "finance.JournalEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["-transaction_date", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="investment_txn_amount_positive")]

    def __str__(self) -> str:
        return f"{self.transaction_type} {self.amount}"
