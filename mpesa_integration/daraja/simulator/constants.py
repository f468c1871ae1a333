"""Fixed values of the simulator: sandbox defaults, Daraja's reply texts, field patterns and paths."""

from __future__ import annotations

import re
from decimal import Decimal
from zoneinfo import ZoneInfo

NAIROBI = ZoneInfo("Africa/Nairobi")

# Public sandbox test values from the Daraja portal (daraja.md §1.1); not secrets.
SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
DEFAULT_CONSUMER_KEY = "simulator-consumer-key"
DEFAULT_CONSUMER_SECRET = "simulator-consumer-secret"
DEFAULT_INITIATOR_NAME = "testapi"
DEFAULT_INITIATOR_PASSWORD = "Safaricom999!*!"
DEFAULT_B2C_SHORTCODE = "600999"
DEFAULT_C2B_SHORTCODE = "600998"
DEFAULT_UTILITY_BALANCE = Decimal("1000000.00")
DEFAULT_WORKING_BALANCE = Decimal("900000.00")
ORGANISATION_NAME = "ChamaHub Sandbox"
CUSTOMER_FIRST_NAME, CUSTOMER_LAST_NAME = "Test", "User"

ACCEPTED = "Success. Request accepted for processing"
ASYNC_ACCEPTED = "Accept the service request successfully."
BEING_PROCESSED = "The transaction is being processed"

B2C_COMMAND_IDS = ("SalaryPayment", "BusinessPayment", "PromotionPayment")
C2B_COMMAND_IDS = {"CustomerPayBillOnline": "Pay Bill", "CustomerBuyGoodsOnline": "Buy Goods"}
C2B_FORBIDDEN_URL_WORDS = ("m-pesa", "mpesa", "safaricom", "exe", "exec", "cmd", "sql", "query")

MSISDN_RE = re.compile(r"^254[17]\d{8}$")
SHORTCODE_RE = re.compile(r"^\d{5,7}$")
URL_RE = re.compile(r"^https?://[^\s/?#]+([/?#]\S*)?$")

STK_PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
CONTROL_PREFIX = "/simulator/"
