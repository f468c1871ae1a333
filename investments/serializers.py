"""Investment API shapes: output serializers, and <Entity><Verb>InputSerializers for writes."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from chamahub.api.fields import MoneyField
from chamahub.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from investments.choices import InvestmentStatus, InvestmentTransactionType, InvestmentType
from investments.models import Investment, InvestmentTransaction, Portfolio, StockHolding
from investments.selectors import portfolio_figures
from investments.services import INVESTMENT_IMMUTABLE_FIELDS


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, read_only=True, **kwargs
    )


def _percent(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=9, decimal_places=2, read_only=True, **kwargs)


class OptionalDateField(serializers.DateField):
    """A date that may be omitted, null or "" (the first web client sends "" for an empty date input)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data == "":
            return (True, None)
        return super().validate_empty_values(data)


_RATE = {"max_digits": 7, "decimal_places": 4, "min_value": Decimal("0"), "max_value": Decimal("100")}


# --- investments -----------------------------------------------------------------------------------


class InvestmentSerializer(serializers.ModelSerializer):
    """An investment, with computed figures and the aliases the first web client reads."""

    profit_loss = _money(help_text="current_value − principal_amount (unrealised).")
    roi = _percent(help_text="profit_loss ÷ principal_amount × 100.")
    amount_invested = _money(source="principal_amount", help_text="Alias of principal_amount.")
    expected_return = _money(
        help_text="principal × expected_return_rate/100 × years to maturity (one year if no maturity date)."
    )
    investment_date = serializers.DateField(source="purchase_date", read_only=True, help_text="Alias of purchase_date.")
    returns = _money(help_text="Income received: dividends + interest + realised gains (− realised losses).")
    roi_percentage = _percent(source="roi", help_text="Alias of roi.")

    class Meta:
        model = Investment
        fields = [
            "id",
            "group",
            "portfolio",
            "investment_type",
            "name",
            "description",
            "principal_amount",
            "current_value",
            "expected_return_rate",
            "purchase_date",
            "maturity_date",
            "status",
            "notes",
            "created_by",
            "created_at",
            "updated_at",
            "profit_loss",
            "roi",
            "amount_invested",
            "expected_return",
            "investment_date",
            "returns",
            "roi_percentage",
        ]
        read_only_fields = fields


class InvestmentCreateInputSerializer(serializers.Serializer):
    """The first web client's payload. Creating records the initial BUY of principal_amount (a posting)."""

    group = serializers.IntegerField()
    investment_type = serializers.ChoiceField(choices=InvestmentType.choices)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    principal_amount = MoneyField()
    current_value = MoneyField(required=False, allow_null=True, help_text="Defaults to principal_amount.")
    expected_return_rate = serializers.DecimalField(**_RATE, required=False, default=Decimal("0"))
    purchase_date = serializers.DateField()
    maturity_date = OptionalDateField()
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    # A CharField, not a ChoiceField: only ACTIVE is accepted, and one status enum keeps the schema's names stable.
    status = serializers.CharField(required=False, default=InvestmentStatus.ACTIVE, help_text="Must be ACTIVE.")
    portfolio = serializers.IntegerField(
        required=False, allow_null=True, help_text="Defaults to the group's 'Main portfolio'."
    )

    def validate_status(self, value):
        if value != InvestmentStatus.ACTIVE:
            raise serializers.ValidationError("A new investment is ACTIVE; SOLD and MATURED follow transactions.")
        return value


class InvestmentUpdateInputSerializer(serializers.Serializer):
    """Only descriptive fields; principal, value and status change only through transactions."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    maturity_date = OptionalDateField()
    expected_return_rate = serializers.DecimalField(**_RATE, required=False)
    portfolio = serializers.IntegerField(required=False, allow_null=True)

    def validate(self, attrs):
        data = self.initial_data if isinstance(self.initial_data, dict) else {}
        refused = {f: [msg] for f, msg in INVESTMENT_IMMUTABLE_FIELDS.items() if f in data}
        if refused:
            raise serializers.ValidationError(refused)
        return attrs


class InvestmentValuationInputSerializer(serializers.Serializer):
    current_value = MoneyField()
    date = serializers.DateField(required=False, help_text="Valuation date; defaults to today.")


# --- transactions ----------------------------------------------------------------------------------


class InvestmentTransactionSerializer(serializers.ModelSerializer):
    investment_name = serializers.CharField(source="investment.name", read_only=True)

    class Meta:
        model = InvestmentTransaction
        fields = [
            "id",
            "group",
            "investment",
            "investment_name",
            "transaction_type",
            "amount",
            "quantity",
            "price_per_unit",
            "transaction_date",
            "reference_number",
            "notes",
            "principal_change",
            "income_amount",
            "journal_entry",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class InvestmentTransactionCreateInputSerializer(serializers.Serializer):
    investment = serializers.IntegerField()
    transaction_type = serializers.ChoiceField(choices=InvestmentTransactionType.choices)
    amount = MoneyField(help_text="Cash amount; for a VALUATION, the new current value.")
    quantity = serializers.DecimalField(
        max_digits=14, decimal_places=4, min_value=Decimal("0.0001"), required=False, allow_null=True
    )
    price_per_unit = MoneyField(max_digits=12, required=False, allow_null=True)
    transaction_date = serializers.DateField(help_text="Not in the future, not before the purchase date.")
    reference_number = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    notes = serializers.CharField(required=False, allow_blank=True, default="")


# --- stock holdings --------------------------------------------------------------------------------


class StockHoldingSerializer(serializers.ModelSerializer):
    total_purchase_value = _money(help_text="Cost of the shares still held.")
    current_total_value = _money(help_text="Shares held × current price.")
    profit_loss = _money()
    profit_loss_percentage = _percent()
    status = serializers.CharField(
        source="investment.status", read_only=True, help_text="The linked investment's status: ACTIVE or SOLD."
    )

    class Meta:
        model = StockHolding
        fields = [
            "id",
            "group",
            "investment",
            "stock_symbol",
            "stock_name",
            "exchange",
            "shares_quantity",
            "purchase_price_per_share",
            "current_price_per_share",
            "cdsc_account_number",
            "purchase_date",
            "last_price_update",
            "notes",
            "status",
            "total_purchase_value",
            "current_total_value",
            "profit_loss",
            "profit_loss_percentage",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class StockHoldingCreateInputSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    stock_symbol = serializers.CharField(max_length=10)
    stock_name = serializers.CharField(max_length=200)
    exchange = serializers.CharField(max_length=50, required=False, default="NSE")
    shares_quantity = serializers.IntegerField(min_value=1)
    purchase_price_per_share = MoneyField(max_digits=12)
    current_price_per_share = MoneyField(max_digits=12, required=False, allow_null=True)
    cdsc_account_number = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    purchase_date = serializers.DateField()
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    portfolio = serializers.IntegerField(required=False, allow_null=True)


class StockHoldingPriceUpdateInputSerializer(serializers.Serializer):
    current_price_per_share = MoneyField(max_digits=12)


class StockHoldingTradeInputSerializer(serializers.Serializer):
    shares_quantity = serializers.IntegerField(min_value=1)
    price_per_share = MoneyField(max_digits=12)


# --- portfolios ------------------------------------------------------------------------------------


class PortfolioListSerializer(serializers.ListSerializer):
    """Computes the figures of the whole page in one aggregate query before serialising its items."""

    def to_representation(self, data):
        items = list(data.all() if hasattr(data, "all") else data)
        figures = portfolio_figures(portfolios=items)
        for item in items:
            item.figures = figures[item.pk]
        return super().to_representation(items)


class PortfolioSerializer(serializers.ModelSerializer):
    """A portfolio. Every figure is aggregated from its investments (see investments.selectors)."""

    total_invested = _money(source="figures.total_invested", help_text="Σ principal of its ACTIVE investments.")
    current_value = _money(source="figures.current_value", help_text="Σ current value of its ACTIVE investments.")
    total_return = _money(source="figures.total_return", help_text="current_value − total_invested.")
    total_return_percentage = _percent(source="figures.total_return_percentage")
    stocks_percentage = _percent(source="figures.stocks_percentage", help_text="EQUITY + STOCKS.")
    bonds_percentage = _percent(source="figures.bonds_percentage", help_text="TREASURY_BOND + BONDS + TREASURY_BILL.")
    real_estate_percentage = _percent(source="figures.real_estate_percentage")
    cash_percentage = _percent(source="figures.cash_percentage", help_text="MONEY_MARKET + FIXED_DEPOSIT.")
    other_percentage = _percent(source="figures.other_percentage", help_text="SACCO_SHARES + OTHER.")
    is_diversified = serializers.BooleanField(
        source="figures.is_diversified", read_only=True, help_text="No asset class above 60% of the value."
    )
    ytd_return = _percent(
        source="figures.ytd_return", help_text="Income recognised this calendar year ÷ total_invested × 100."
    )
    investment_count = serializers.IntegerField(source="figures.investment_count", read_only=True)

    class Meta:
        model = Portfolio
        list_serializer_class = PortfolioListSerializer
        fields = [
            "id",
            "group",
            "name",
            "description",
            "is_default",
            "last_rebalance_date",
            "total_invested",
            "current_value",
            "total_return",
            "total_return_percentage",
            "stocks_percentage",
            "bonds_percentage",
            "real_estate_percentage",
            "cash_percentage",
            "other_percentage",
            "is_diversified",
            "ytd_return",
            "investment_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        if not hasattr(instance, "figures"):
            instance.figures = portfolio_figures(portfolios=[instance])[instance.pk]
        return super().to_representation(instance)


class PortfolioCreateInputSerializer(serializers.Serializer):
    group = serializers.IntegerField()
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class PortfolioUpdateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs):
        data = self.initial_data if isinstance(self.initial_data, dict) else {}
        portfolio = self.context.get("portfolio")
        if "group" in data and portfolio is not None and str(data["group"]) != str(portfolio.group_id):
            raise serializers.ValidationError({"group": ["A portfolio cannot move to another group."]})
        return attrs
