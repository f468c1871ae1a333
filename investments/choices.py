from django.db import models


class InvestmentType(models.TextChoices):
    MONEY_MARKET = "MONEY_MARKET", "Money market fund"
    TREASURY_BILL = "TREASURY_BILL", "Treasury bill"
    TREASURY_BOND = "TREASURY_BOND", "Treasury bond"
    BONDS = "BONDS", "Bonds (other)"
    FIXED_DEPOSIT = "FIXED_DEPOSIT", "Fixed deposit"
    SACCO_SHARES = "SACCO_SHARES", "SACCO shares"
    EQUITY = "EQUITY", "Equity"
    STOCKS = "STOCKS", "Stocks (listed equity)"
    REAL_ESTATE = "REAL_ESTATE", "Real estate"
    OTHER = "OTHER", "Other"


class InvestmentStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "Active"
    MATURED = "MATURED", "Matured"
    SOLD = "SOLD", "Sold"
    CANCELLED = "CANCELLED", "Cancelled"


class InvestmentTransactionType(models.TextChoices):
    BUY = "BUY", "Buy / top-up"
    SELL = "SELL", "Sell / redeem"
    DIVIDEND = "DIVIDEND", "Dividend"
    INTEREST = "INTEREST", "Interest"
    VALUATION = "VALUATION", "Valuation (no cash)"
    MATURITY = "MATURITY", "Maturity"
