"""
Writes for investments. Every cash movement posts exactly ONE balanced journal entry (kind INVESTMENT)
through finance.services.ledger and links it on its InvestmentTransaction:

    BUY (top-up)        Dr INVESTMENTS amount / Cr CASH amount         (409 InsufficientFunds if cash < amount)
    SELL (redemption)   Dr CASH amount / Cr INVESTMENTS cost / Cr INVESTMENT_INCOME gain
                        (a loss debits INVESTMENT_INCOME); amount = cash proceeds,
                        cost = principal × min(1, amount / current_value)
    MATURITY            as a full redemption: the whole cost is released, status MATURED
    DIVIDEND, INTEREST  Dr CASH / Cr INVESTMENT_INCOME
    VALUATION           no posting; current_value = amount

`principal_amount` (the cost, equal in total to the ledger's INVESTMENTS balance) and `current_value`
change only here. Transactions are immutable: a mistake is corrected by a new transaction (a VALUATION
for a wrong value, a BUY to undo a wrong SELL, ...), never by editing or deleting one.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from chamahub import events
from chamahub.exceptions import ValidationFailed
from chamahub.money import ZERO, money_require, to_money
from finance.choices import AccountKind, EntryKind
from finance.exceptions import InsufficientFunds
from finance.selectors.ledger import account_balance
from finance.services.ledger import credit, debit, journal_entry_post
from investments.choices import InvestmentStatus, InvestmentTransactionType, InvestmentType
from investments.exceptions import HoldingExists, ImmutableField, InvestmentClosed
from investments.models import Investment, InvestmentTransaction, Portfolio, StockHolding

DEFAULT_PORTFOLIO_NAME = "Main portfolio"

T = InvestmentTransactionType

# Fields an official may edit on an investment; money moves only through transactions.
INVESTMENT_EDITABLE_FIELDS = frozenset(
    {"name", "description", "notes", "maturity_date", "expected_return_rate", "portfolio_id"}
)
INVESTMENT_IMMUTABLE_FIELDS = {
    "principal_amount": "The principal changes only through transactions (BUY, SELL, MATURITY).",
    "amount_invested": "The principal changes only through transactions (BUY, SELL, MATURITY).",
    "current_value": "The value changes only through transactions (a VALUATION, or a BUY/SELL).",
    "status": "The status changes only through transactions (a full SELL or MATURITY).",
    "group": "An investment cannot move to another group.",
    "investment_type": "The type cannot be changed; record a SELL and register a new investment.",
    "purchase_date": "The purchase date is the date of the initial BUY and cannot be changed.",
    "investment_date": "The purchase date is the date of the initial BUY and cannot be changed.",
}


# --- helpers ---------------------------------------------------------------------------------------


def _date_check(value: date, *, field: str, not_before: date | None = None) -> None:
    if value > timezone.localdate():
        raise ValidationFailed("The date cannot be in the future.", fields={field: ["Date cannot be in the future."]})
    if not_before is not None and value < not_before:
        message = f"Date cannot be before the investment's purchase date ({not_before.isoformat()})."
        raise ValidationFailed(message, fields={field: [message]})


def _cash_check(*, group_id: int, amount: Decimal, field: str) -> None:
    available = account_balance(group_id=group_id, kind=AccountKind.CASH)
    if available < amount:
        message = f"The group has KES {available} in cash; KES {amount} is needed."
        raise InsufficientFunds(message, fields={field: [message]})


def _active_require(investment: Investment) -> None:
    if investment.status != InvestmentStatus.ACTIVE:
        raise InvestmentClosed(fields={"investment": [f"The investment is {investment.status}."]})


def _portfolio_for(*, group_id: int, portfolio_id: int | None) -> Portfolio:
    if portfolio_id is None:
        return portfolio_default_get_or_create(group_id=group_id)
    portfolio = Portfolio.objects.filter(pk=portfolio_id, group_id=group_id).first()
    if portfolio is None:
        raise ValidationFailed(fields={"portfolio": ["No such portfolio in this group."]})
    return portfolio


def _transaction_apply(
    *,
    investment: Investment,
    transaction_type: str,
    amount: Decimal,
    transaction_date: date,
    user_id: int | None,
    quantity: Decimal | None = None,
    price_per_unit: Decimal | None = None,
    reference_number: str = "",
    notes: str = "",
    amount_field: str = "amount",
) -> InvestmentTransaction:
    """Apply one transaction to a LOCKED, ACTIVE investment: post its entry, update the investment."""
    amount = to_money(amount)
    principal, value, status = investment.principal_amount, investment.current_value, investment.status
    principal_change = income = ZERO
    legs = []
    if transaction_type == T.BUY:
        _cash_check(group_id=investment.group_id, amount=amount, field=amount_field)
        legs = [debit(AccountKind.INVESTMENTS, amount), credit(AccountKind.CASH, amount)]
        principal_change = amount
        value += amount
    elif transaction_type in (T.SELL, T.MATURITY):
        if transaction_type == T.MATURITY or amount >= value:
            cost = principal
        else:
            cost = min(principal, to_money(principal * amount / value))
        income = amount - cost
        legs = [debit(AccountKind.CASH, amount), credit(AccountKind.INVESTMENTS, cost)]
        if income > 0:
            legs.append(credit(AccountKind.INVESTMENT_INCOME, income, memo="Realised gain"))
        elif income < 0:
            legs.append(debit(AccountKind.INVESTMENT_INCOME, -income, memo="Realised loss"))
        principal_change = -cost
        value = max(ZERO, value - amount)
        if principal - cost == 0:
            value = ZERO
            status = InvestmentStatus.MATURED if transaction_type == T.MATURITY else InvestmentStatus.SOLD
    elif transaction_type in (T.DIVIDEND, T.INTEREST):
        legs = [debit(AccountKind.CASH, amount), credit(AccountKind.INVESTMENT_INCOME, amount)]
        income = amount
    elif transaction_type == T.VALUATION:
        value = amount
    else:  # pragma: no cover - choices are validated by the serializer
        raise ValidationFailed(fields={"transaction_type": [f"Unknown transaction type {transaction_type!r}."]})

    txn = InvestmentTransaction(
        group_id=investment.group_id,
        investment=investment,
        transaction_type=transaction_type,
        amount=amount,
        quantity=quantity,
        price_per_unit=price_per_unit,
        transaction_date=transaction_date,
        reference_number=reference_number or "",
        notes=notes or "",
        principal_change=principal_change,
        income_amount=income,
        created_by_id=user_id,
    )
    txn.save()
    if legs:
        txn.journal_entry = journal_entry_post(
            group_id=investment.group_id,
            kind=EntryKind.INVESTMENT,
            description=f"{T(transaction_type).label}: {investment.name}",
            legs=legs,
            entry_date=transaction_date,
            reference=f"investment-transaction:{txn.pk}",
            created_by_id=user_id,
        )
        txn.save(update_fields=["journal_entry", "updated_at"])
        if transaction_type == T.BUY and account_balance(group_id=investment.group_id, kind=AccountKind.CASH) < 0:
            # The CASH account row is locked by the posting until commit, so this re-read is race-free:
            # a concurrent payment that spent the cash since the first check makes this one roll back.
            raise InsufficientFunds(fields={amount_field: ["The group's cash was spent by another payment."]})

    investment.principal_amount = principal + principal_change
    investment.current_value = value
    investment.status = status
    investment.save(update_fields=["principal_amount", "current_value", "status", "updated_at"])
    events.publish(
        "investment.transaction_recorded",
        {
            "transaction_id": txn.pk,
            "investment_id": investment.pk,
            "transaction_type": transaction_type,
            "amount": str(amount),
            "income_amount": str(income),
            "journal_entry_id": txn.journal_entry_id,
        },
        group_id=investment.group_id,
    )
    return txn


def _investment_lock(investment_id: int) -> Investment:
    return Investment.objects.select_for_update().get(pk=investment_id)


def _holding_lock(holding_id: int) -> tuple[StockHolding, Investment]:
    holding = StockHolding.objects.select_for_update().get(pk=holding_id)
    investment = _investment_lock(holding.investment_id)
    _active_require(investment)
    return holding, investment


# --- portfolios ------------------------------------------------------------------------------------


def portfolio_default_get_or_create(*, group_id: int) -> Portfolio:
    """The group's default portfolio ("Main portfolio"), created with the group's first investment."""
    portfolio = Portfolio.objects.filter(group_id=group_id, is_default=True).first()
    if portfolio is not None:
        return portfolio
    named = Portfolio.objects.filter(group_id=group_id, name=DEFAULT_PORTFOLIO_NAME).first()
    if named is not None:
        named.is_default = True
        named.save(update_fields=["is_default", "updated_at"])
        return named
    try:
        with transaction.atomic():
            return Portfolio.objects.create(group_id=group_id, name=DEFAULT_PORTFOLIO_NAME, is_default=True)
    except IntegrityError:  # created concurrently
        return Portfolio.objects.get(group_id=group_id, is_default=True)


def _portfolio_name_check(*, group_id: int, name: str, exclude_id: int | None = None) -> None:
    clash = Portfolio.objects.filter(group_id=group_id, name__iexact=name).exclude(pk=exclude_id)
    if clash.exists():
        raise ValidationFailed(fields={"name": ["The group already has a portfolio with this name."]})


@transaction.atomic
def portfolio_create(*, group_id: int, name: str, description: str = "") -> Portfolio:
    name = name.strip()
    _portfolio_name_check(group_id=group_id, name=name)
    portfolio = Portfolio(group_id=group_id, name=name, description=description)
    portfolio.full_clean()
    portfolio.save()
    return portfolio


@transaction.atomic
def portfolio_update(*, portfolio: Portfolio, name: str | None = None, description: str | None = None) -> Portfolio:
    if name is not None:
        name = name.strip()
        _portfolio_name_check(group_id=portfolio.group_id, name=name, exclude_id=portfolio.pk)
        portfolio.name = name
    if description is not None:
        portfolio.description = description
    portfolio.full_clean()
    portfolio.save()
    return portfolio


# --- investments -----------------------------------------------------------------------------------


@transaction.atomic
def investment_create(
    *,
    group_id: int,
    user,
    investment_type: str,
    name: str,
    principal_amount: Decimal,
    purchase_date: date,
    description: str = "",
    current_value: Decimal | None = None,
    expected_return_rate: Decimal = Decimal("0"),
    maturity_date: date | None = None,
    notes: str = "",
    portfolio_id: int | None = None,
    status: str = InvestmentStatus.ACTIVE,
    amount_field: str = "principal_amount",
) -> Investment:
    """
    Register an investment: its initial BUY of `principal_amount` posts Dr INVESTMENTS / Cr CASH.
    `current_value` defaults to the principal; a different stated value is recorded as a VALUATION.
    Without a portfolio it goes to the group's default portfolio (created on the first investment).
    `amount_field` names the input field that errors about the amount point at.
    """
    if status != InvestmentStatus.ACTIVE:
        raise ValidationFailed(fields={"status": ["A new investment is ACTIVE; SOLD/MATURED follow transactions."]})
    _date_check(purchase_date, field="purchase_date")
    if maturity_date is not None and maturity_date < purchase_date:
        raise ValidationFailed(fields={"maturity_date": ["The maturity date cannot be before the purchase date."]})
    principal_amount = money_require(principal_amount, field=amount_field)
    _cash_check(group_id=group_id, amount=principal_amount, field=amount_field)
    portfolio = _portfolio_for(group_id=group_id, portfolio_id=portfolio_id)

    investment = Investment(
        group_id=group_id,
        portfolio=portfolio,
        investment_type=investment_type,
        name=name,
        description=description,
        principal_amount=ZERO,
        current_value=ZERO,
        expected_return_rate=expected_return_rate,
        purchase_date=purchase_date,
        maturity_date=maturity_date,
        status=InvestmentStatus.ACTIVE,
        created_by=user,
        notes=notes,
    )
    investment.full_clean()
    investment.save()
    events.publish(
        "investment.created",
        {
            "investment_id": investment.pk,
            "investment_type": investment_type,
            "principal_amount": str(principal_amount),
            "created_by": getattr(user, "pk", None),
        },
        group_id=group_id,
    )
    user_id = getattr(user, "pk", None)
    _transaction_apply(
        investment=investment,
        transaction_type=T.BUY,
        amount=principal_amount,
        transaction_date=purchase_date,
        user_id=user_id,
        notes="Initial purchase",
        amount_field=amount_field,
    )
    if current_value is not None and to_money(current_value) != investment.current_value:
        _transaction_apply(
            investment=investment,
            transaction_type=T.VALUATION,
            amount=current_value,
            transaction_date=purchase_date,
            user_id=user_id,
            notes="Value stated at registration",
        )
    return investment


@transaction.atomic
def investment_update(*, investment: Investment, changes: dict) -> Investment:
    """Edit descriptive fields only. Money, status, type, group and purchase date are refused (400)."""
    refused = {f: [INVESTMENT_IMMUTABLE_FIELDS[f]] for f in changes if f in INVESTMENT_IMMUTABLE_FIELDS}
    if refused:
        raise ImmutableField("These fields change only through transactions, or not at all.", fields=refused)
    unknown = set(changes) - INVESTMENT_EDITABLE_FIELDS
    if unknown:
        raise ImmutableField(fields={f: ["This field cannot be changed."] for f in sorted(unknown)})
    investment = _investment_lock(investment.pk)
    if "portfolio_id" in changes:
        portfolio = _portfolio_for(group_id=investment.group_id, portfolio_id=changes.pop("portfolio_id"))
        investment.portfolio = portfolio
    maturity = changes.get("maturity_date", investment.maturity_date)
    if maturity is not None and maturity < investment.purchase_date:
        raise ValidationFailed(fields={"maturity_date": ["The maturity date cannot be before the purchase date."]})
    for field, value in changes.items():
        setattr(investment, field, value)
    investment.full_clean()
    investment.save()
    return investment


def _holding_linked_refuse(investment: Investment, transaction_type: str) -> None:
    if (
        transaction_type in (T.BUY, T.SELL, T.VALUATION, T.MATURITY)
        and StockHolding.objects.filter(investment_id=investment.pk).exists()
    ):
        raise ValidationFailed(
            fields={
                "transaction_type": [
                    "This investment is a stock holding: use stock-holdings/{id}/buy/, sell/ or update_price/ "
                    "so the share count stays right."
                ]
            }
        )


@transaction.atomic
def investment_transaction_record(
    *,
    investment: Investment,
    user,
    transaction_type: str,
    amount: Decimal,
    transaction_date: date,
    quantity: Decimal | None = None,
    price_per_unit: Decimal | None = None,
    reference_number: str = "",
    notes: str = "",
) -> InvestmentTransaction:
    """Record one transaction (see the module docstring for its posting). 409 on a closed investment."""
    investment = _investment_lock(investment.pk)
    _active_require(investment)
    _holding_linked_refuse(investment, transaction_type)
    _date_check(transaction_date, field="transaction_date", not_before=investment.purchase_date)
    return _transaction_apply(
        investment=investment,
        transaction_type=transaction_type,
        amount=amount,
        transaction_date=transaction_date,
        user_id=getattr(user, "pk", None),
        quantity=quantity,
        price_per_unit=price_per_unit,
        reference_number=reference_number,
        notes=notes,
    )


@transaction.atomic
def investment_revalue(
    *, investment: Investment, user, current_value: Decimal, valuation_date: date | None = None
) -> InvestmentTransaction:
    """A VALUATION: the new current value, no posting."""
    investment = _investment_lock(investment.pk)
    _active_require(investment)
    _holding_linked_refuse(investment, T.VALUATION)
    valuation_date = valuation_date or timezone.localdate()
    _date_check(valuation_date, field="date", not_before=investment.purchase_date)
    return _transaction_apply(
        investment=investment,
        transaction_type=T.VALUATION,
        amount=current_value,
        transaction_date=valuation_date,
        user_id=getattr(user, "pk", None),
        notes="Valuation",
        amount_field="current_value",
    )


# --- stock holdings --------------------------------------------------------------------------------


@transaction.atomic
def stock_holding_create(
    *,
    group_id: int,
    user,
    stock_symbol: str,
    stock_name: str,
    shares_quantity: int,
    purchase_price_per_share: Decimal,
    purchase_date: date,
    exchange: str = "NSE",
    current_price_per_share: Decimal | None = None,
    cdsc_account_number: str = "",
    notes: str = "",
    portfolio_id: int | None = None,
) -> StockHolding:
    """A new holding: an EQUITY investment whose initial BUY is quantity × purchase price."""
    symbol, exchange = stock_symbol.strip().upper(), (exchange or "NSE").strip().upper()
    if StockHolding.objects.filter(
        group_id=group_id, stock_symbol=symbol, exchange=exchange, shares_quantity__gt=0
    ).exists():
        raise HoldingExists(fields={"stock_symbol": [f"The group already holds {symbol} on {exchange}."]})
    current_price = current_price_per_share or purchase_price_per_share
    investment = investment_create(
        group_id=group_id,
        user=user,
        investment_type=InvestmentType.EQUITY,
        name=f"{stock_name} ({symbol})",
        description=f"{shares_quantity} shares of {symbol} on {exchange}",
        principal_amount=to_money(shares_quantity * purchase_price_per_share),
        current_value=to_money(shares_quantity * current_price),
        purchase_date=purchase_date,
        portfolio_id=portfolio_id,
        amount_field="purchase_price_per_share",
    )
    holding = StockHolding(
        group_id=group_id,
        investment=investment,
        stock_symbol=symbol,
        stock_name=stock_name,
        exchange=exchange,
        shares_quantity=shares_quantity,
        purchase_price_per_share=purchase_price_per_share,
        current_price_per_share=current_price,
        cdsc_account_number=cdsc_account_number,
        purchase_date=purchase_date,
        last_price_update=timezone.now(),
        notes=notes,
    )
    holding.full_clean()
    holding.save()
    return holding


def _mark_to_price(*, holding: StockHolding, investment: Investment, price: Decimal, on: date, user_id) -> None:
    """Value the holding at `price` (a VALUATION when the value changes)."""
    value = to_money(holding.shares_quantity * price)
    if value != investment.current_value and value > 0:
        _transaction_apply(
            investment=investment,
            transaction_type=T.VALUATION,
            amount=value,
            transaction_date=on,
            user_id=user_id,
            quantity=Decimal(holding.shares_quantity),
            price_per_unit=price,
            notes=f"{holding.stock_symbol} at {price}",
        )
    holding.current_price_per_share = price
    holding.last_price_update = timezone.now()


@transaction.atomic
def stock_holding_price_update(*, holding: StockHolding, user, current_price_per_share: Decimal) -> StockHolding:
    holding, investment = _holding_lock(holding.pk)
    _mark_to_price(
        holding=holding,
        investment=investment,
        price=current_price_per_share,
        on=timezone.localdate(),
        user_id=getattr(user, "pk", None),
    )
    holding.save(update_fields=["current_price_per_share", "last_price_update", "updated_at"])
    return holding


@transaction.atomic
def stock_holding_sell(*, holding: StockHolding, user, shares_quantity: int, price_per_share: Decimal) -> StockHolding:
    """
    Sell shares at `price_per_share`. The holding is first marked to that price, so the cost released
    is exactly the sold fraction of the shares; the SELL posts the proceeds, cost and gain/loss.
    """
    holding, investment = _holding_lock(holding.pk)
    if shares_quantity > holding.shares_quantity:
        raise ValidationFailed(fields={"shares_quantity": [f"The group holds only {holding.shares_quantity} shares."]})
    today, user_id = timezone.localdate(), getattr(user, "pk", None)
    _mark_to_price(holding=holding, investment=investment, price=price_per_share, on=today, user_id=user_id)
    _transaction_apply(
        investment=investment,
        transaction_type=T.SELL,
        amount=to_money(shares_quantity * price_per_share),
        transaction_date=today,
        user_id=user_id,
        quantity=Decimal(shares_quantity),
        price_per_unit=price_per_share,
        notes=f"Sold {shares_quantity} {holding.stock_symbol}",
        amount_field="shares_quantity",
    )
    holding.shares_quantity -= shares_quantity
    holding.save(update_fields=["shares_quantity", "current_price_per_share", "last_price_update", "updated_at"])
    return holding


@transaction.atomic
def stock_holding_buy(*, holding: StockHolding, user, shares_quantity: int, price_per_share: Decimal) -> StockHolding:
    """Buy more shares: marked to `price_per_share`, then a BUY of quantity × price; the cost per share averages."""
    holding, investment = _holding_lock(holding.pk)
    today, user_id = timezone.localdate(), getattr(user, "pk", None)
    _mark_to_price(holding=holding, investment=investment, price=price_per_share, on=today, user_id=user_id)
    _transaction_apply(
        investment=investment,
        transaction_type=T.BUY,
        amount=to_money(shares_quantity * price_per_share),
        transaction_date=today,
        user_id=user_id,
        quantity=Decimal(shares_quantity),
        price_per_unit=price_per_share,
        notes=f"Bought {shares_quantity} {holding.stock_symbol}",
        amount_field="shares_quantity",
    )
    holding.shares_quantity += shares_quantity
    holding.purchase_price_per_share = to_money(investment.principal_amount / holding.shares_quantity)
    holding.save()
    return holding
