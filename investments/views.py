"""
Investment endpoints (/api/v1/investments/). Thin: scoped selectors for reads; each write validates an
*InputSerializer and calls one service.

Who may do what: ACTIVE members of a group read its investments, holdings, portfolios and transactions;
officials (chairperson, treasurer, secretary) write. Outsiders get 404 everywhere, plain members 403 on writes.

Not offered, on purpose (405):
- DELETE of an investment or stock holding: its initial BUY is posted in the ledger. Close a position with a
  SELL (or MATURITY); mistakes are corrected by a new transaction.
- PUT/PATCH/DELETE of an investment transaction: transactions are immutable, like the journal entries they
  posted. A correction is a new transaction (a VALUATION for a wrong value, a BUY to undo a wrong SELL, ...).
- DELETE of a portfolio: its investments would silently move; move them first, keep the empty portfolio.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from chamahub.api.serializers import validated as _validated
from groups.selectors import official_require
from investments import selectors, services
from investments.filters import (
    InvestmentFilterSet,
    InvestmentTransactionFilterSet,
    PortfolioFilterSet,
    StockHoldingFilterSet,
)
from investments.serializers import (
    InvestmentCreateInputSerializer,
    InvestmentSerializer,
    InvestmentTransactionCreateInputSerializer,
    InvestmentTransactionSerializer,
    InvestmentUpdateInputSerializer,
    InvestmentValuationInputSerializer,
    PortfolioCreateInputSerializer,
    PortfolioSerializer,
    PortfolioUpdateInputSerializer,
    StockHoldingCreateInputSerializer,
    StockHoldingPriceUpdateInputSerializer,
    StockHoldingSerializer,
    StockHoldingTradeInputSerializer,
)


def _group_official_require(request) -> None:
    """On create: an outsider gets 404 and a plain member 403 before the body is looked at."""
    group_id = request.data.get("group") if hasattr(request.data, "get") else None
    if group_id is not None:
        official_require(request.user, group_id, field="group")


class InvestmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Group investments. Creating one records (and posts) its initial BUY; money then moves by transactions."""

    serializer_class = InvestmentSerializer
    filterset_class = InvestmentFilterSet
    search_fields = ["name", "description"]
    ordering_fields = ["purchase_date", "principal_amount", "current_value", "created_at"]
    ordering = ["-purchase_date", "-id"]

    def get_queryset(self):
        return selectors.investment_list(user=self.request.user)

    def _output(self, investment_id: int) -> dict:
        investment = selectors.investment_get(user=self.request.user, investment_id=investment_id)
        return InvestmentSerializer(investment, context=self.get_serializer_context()).data

    @extend_schema(request=InvestmentCreateInputSerializer, responses={201: InvestmentSerializer})
    def create(self, request, *args, **kwargs):
        _group_official_require(request)
        data = _validated(InvestmentCreateInputSerializer, request.data)
        official_require(request.user, data["group"], field="group")
        investment = services.investment_create(
            group_id=data.pop("group"),
            user=request.user,
            portfolio_id=data.pop("portfolio", None),
            **data,
        )
        return Response(self._output(investment.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=InvestmentUpdateInputSerializer, responses=InvestmentSerializer)
    def update(self, request, *args, **kwargs):
        investment = self.get_object()
        official_require(request.user, investment.group_id)
        changes = _validated(InvestmentUpdateInputSerializer, request.data)
        if "portfolio" in changes:
            changes["portfolio_id"] = changes.pop("portfolio")
        services.investment_update(investment=investment, changes=changes)
        return Response(self._output(investment.pk))

    @extend_schema(request=InvestmentUpdateInputSerializer, responses=InvestmentSerializer)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    @extend_schema(request=InvestmentValuationInputSerializer, responses=InvestmentSerializer)
    @action(detail=True, methods=["post"])
    def valuation(self, request, pk=None):
        """Record a new current value (a VALUATION transaction; nothing is posted)."""
        investment = self.get_object()
        official_require(request.user, investment.group_id)
        data = _validated(InvestmentValuationInputSerializer, request.data)
        services.investment_revalue(
            investment=investment,
            user=request.user,
            current_value=data["current_value"],
            valuation_date=data.get("date"),
        )
        return Response(self._output(investment.pk))


class InvestmentTransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Buys, sells, dividends, interest, valuations, maturities. Immutable: no PUT/PATCH/DELETE (405)."""

    serializer_class = InvestmentTransactionSerializer
    filterset_class = InvestmentTransactionFilterSet
    search_fields = ["reference_number", "notes", "investment__name"]
    ordering_fields = ["transaction_date", "amount", "created_at"]
    ordering = ["-transaction_date", "-id"]

    def get_queryset(self):
        return selectors.investment_transaction_list(user=self.request.user)

    @extend_schema(request=InvestmentTransactionCreateInputSerializer, responses={201: InvestmentTransactionSerializer})
    def create(self, request, *args, **kwargs):
        investment_id = request.data.get("investment") if hasattr(request.data, "get") else None
        if investment_id is not None:
            investment = selectors.investment_get(user=request.user, investment_id=investment_id, field="investment")
            official_require(request.user, investment.group_id)
        data = _validated(InvestmentTransactionCreateInputSerializer, request.data)
        investment = selectors.investment_get(
            user=request.user, investment_id=data.pop("investment"), field="investment"
        )
        official_require(request.user, investment.group_id)
        txn = services.investment_transaction_record(investment=investment, user=request.user, **data)
        txn = selectors.investment_transaction_list(user=request.user).get(pk=txn.pk)
        return Response(
            InvestmentTransactionSerializer(txn, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


class StockHoldingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Listed shares; each holding is an EQUITY investment whose cash moves through buy/ and sell/."""

    serializer_class = StockHoldingSerializer
    filterset_class = StockHoldingFilterSet
    search_fields = ["stock_symbol", "stock_name", "cdsc_account_number"]
    ordering_fields = ["purchase_date", "stock_symbol", "shares_quantity", "created_at"]
    ordering = ["-purchase_date", "-id"]

    def get_queryset(self):
        return selectors.stock_holding_list(user=self.request.user)

    def _output(self, holding_id: int, *, code: int = status.HTTP_200_OK) -> Response:
        holding = selectors.stock_holding_list(user=self.request.user).get(pk=holding_id)
        return Response(StockHoldingSerializer(holding, context=self.get_serializer_context()).data, status=code)

    def _official_holding(self):
        holding = self.get_object()
        official_require(self.request.user, holding.group_id)
        return holding

    @extend_schema(request=StockHoldingCreateInputSerializer, responses={201: StockHoldingSerializer})
    def create(self, request, *args, **kwargs):
        _group_official_require(request)
        data = _validated(StockHoldingCreateInputSerializer, request.data)
        official_require(request.user, data["group"], field="group")
        holding = services.stock_holding_create(
            group_id=data.pop("group"), user=request.user, portfolio_id=data.pop("portfolio", None), **data
        )
        return self._output(holding.pk, code=status.HTTP_201_CREATED)

    @extend_schema(request=StockHoldingPriceUpdateInputSerializer, responses=StockHoldingSerializer)
    @action(detail=True, methods=["post"])
    def update_price(self, request, pk=None):
        """Mark the holding to a new share price (a VALUATION of its investment; nothing is posted)."""
        holding = self._official_holding()
        data = _validated(StockHoldingPriceUpdateInputSerializer, request.data)
        services.stock_holding_price_update(holding=holding, user=request.user, **data)
        return self._output(holding.pk)

    @extend_schema(request=StockHoldingTradeInputSerializer, responses=StockHoldingSerializer)
    @action(detail=True, methods=["post"])
    def sell(self, request, pk=None):
        """Sell shares: a SELL of quantity × price on the linked investment (cash in, cost out, gain/loss)."""
        holding = self._official_holding()
        data = _validated(StockHoldingTradeInputSerializer, request.data)
        services.stock_holding_sell(holding=holding, user=request.user, **data)
        return self._output(holding.pk)

    @extend_schema(request=StockHoldingTradeInputSerializer, responses=StockHoldingSerializer)
    @action(detail=True, methods=["post"])
    def buy(self, request, pk=None):
        """Buy more shares: a BUY of quantity × price on the linked investment (409 if cash is short)."""
        holding = self._official_holding()
        data = _validated(StockHoldingTradeInputSerializer, request.data)
        services.stock_holding_buy(holding=holding, user=request.user, **data)
        return self._output(holding.pk)


class PortfolioViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """
    Portfolios with figures aggregated from their investments. Each group's default portfolio ("Main
    portfolio", created with its first investment) is listed first, so `?group=<id>` results[0] is it.
    """

    serializer_class = PortfolioSerializer
    filterset_class = PortfolioFilterSet
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        return selectors.portfolio_list(user=self.request.user)

    def _output(self, portfolio, *, code: int = status.HTTP_200_OK) -> Response:
        return Response(PortfolioSerializer(portfolio, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=PortfolioCreateInputSerializer, responses={201: PortfolioSerializer})
    def create(self, request, *args, **kwargs):
        _group_official_require(request)
        data = _validated(PortfolioCreateInputSerializer, request.data)
        official_require(request.user, data["group"], field="group")
        portfolio = services.portfolio_create(group_id=data.pop("group"), **data)
        return self._output(portfolio, code=status.HTTP_201_CREATED)

    @extend_schema(request=PortfolioUpdateInputSerializer, responses=PortfolioSerializer)
    def update(self, request, *args, **kwargs):
        portfolio = self.get_object()
        official_require(request.user, portfolio.group_id)
        data = _validated(PortfolioUpdateInputSerializer, request.data, portfolio=portfolio)
        return self._output(services.portfolio_update(portfolio=portfolio, **data))

    @extend_schema(request=PortfolioUpdateInputSerializer, responses=PortfolioSerializer)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)
