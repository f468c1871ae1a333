"""
M-Pesa (Daraja) settings, all from the environment. Credentials and the passkey are never in the code: the
defaults below are the public sandbox/simulator values (daraja.md §1.1), which only work against the local Daraja
simulator (`manage.py daraja_simulator`, started by `make run`) or Safaricom's sandbox.

Point MPESA_BASE_URL at https://sandbox.safaricom.co.ke (or https://api.safaricom.co.ke) and set the credentials to
talk to Safaricom; production.py refuses to boot with the simulator's credentials.
"""

import hashlib
import hmac

import environ

from .base import BASE_DIR, SECRET_KEY

env = environ.Env()

MPESA_BASE_URL = env("MPESA_BASE_URL", default="http://127.0.0.1:8089")
MPESA_CONSUMER_KEY = env("MPESA_CONSUMER_KEY", default="simulator-consumer-key")
MPESA_CONSUMER_SECRET = env("MPESA_CONSUMER_SECRET", default="simulator-consumer-secret")
MPESA_SHORTCODE = env("MPESA_SHORTCODE", default="174379")  # Express (STK) shortcode
MPESA_PASSKEY = env("MPESA_PASSKEY", default="bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919")
MPESA_TRANSACTION_TYPE = env("MPESA_TRANSACTION_TYPE", default="CustomerPayBillOnline")
MPESA_PARTY_B = env("MPESA_PARTY_B", default="")  # a till number for CustomerBuyGoodsOnline; defaults to the shortcode
MPESA_B2C_SHORTCODE = env("MPESA_B2C_SHORTCODE", default="600999")
MPESA_C2B_SHORTCODE = env("MPESA_C2B_SHORTCODE", default="600998")
MPESA_C2B_VERSION = env("MPESA_C2B_VERSION", default="v1")
MPESA_INITIATOR_NAME = env("MPESA_INITIATOR_NAME", default="testapi")
MPESA_INITIATOR_PASSWORD = env("MPESA_INITIATOR_PASSWORD", default="Safaricom999!*!")
MPESA_CERTIFICATE_PATH = env("MPESA_CERTIFICATE_PATH", default=str(BASE_DIR / "var" / "daraja-simulator" / "cert.pem"))
MPESA_TIMEOUT = env.float("MPESA_TIMEOUT", default=10.0)

# Where Daraja can reach us. Callback paths carry an unguessable per-deployment secret, compared in constant time.
MPESA_CALLBACK_BASE_URL = env("MPESA_CALLBACK_BASE_URL", default="http://127.0.0.1:8000")


def callback_secret_default(secret_key: str) -> str:
    """Without MPESA_CALLBACK_SECRET, derive one from SECRET_KEY: unguessable, stable, per deployment."""
    return hmac.new(secret_key.encode(), b"mpesa-callback-secret", hashlib.sha256).hexdigest()[:40]


MPESA_CALLBACK_SECRET = env("MPESA_CALLBACK_SECRET", default="") or callback_secret_default(SECRET_KEY)
# Secrets still accepted after a rotation (comma-separated), so callbacks for in-flight requests are not lost.
MPESA_CALLBACK_PREVIOUS_SECRETS = env.list("MPESA_CALLBACK_PREVIOUS_SECRETS", default=[])
# Safaricom's published callback IPs (daraja.md §1.14). Enforced only when MPESA_IP_ALLOWLIST_ENABLED; the client IP
# is REMOTE_ADDR, or the X-Forwarded-For entry MPESA_TRUSTED_PROXY_HOPS from the right when behind proxies.
MPESA_IP_ALLOWLIST_ENABLED = env.bool("MPESA_IP_ALLOWLIST_ENABLED", default=False)
MPESA_IP_ALLOWLIST = env.list(
    "MPESA_IP_ALLOWLIST",
    default=[
        "196.201.214.200", "196.201.214.206", "196.201.214.207", "196.201.214.208",
        "196.201.213.114", "196.201.213.44",
        "196.201.212.127", "196.201.212.128", "196.201.212.129", "196.201.212.132",
        "196.201.212.136", "196.201.212.138", "196.201.212.69", "196.201.212.74",
    ],
)  # fmt: skip
MPESA_TRUSTED_PROXY_HOPS = env.int("MPESA_TRUSTED_PROXY_HOPS", default=0)

# Pending STK pushes older than this are settled by STK Query (the beat sweep); repeat-push guard window.
MPESA_STK_QUERY_AFTER_SECONDS = env.int("MPESA_STK_QUERY_AFTER_SECONDS", default=120)
MPESA_STK_EXPIRE_AFTER_SECONDS = env.int("MPESA_STK_EXPIRE_AFTER_SECONDS", default=900)
MPESA_STK_REPEAT_WINDOW_SECONDS = env.int("MPESA_STK_REPEAT_WINDOW_SECONDS", default=120)
MPESA_STK_PUSH_RATE = env("MPESA_STK_PUSH_RATE", default="5/min")  # per user
MPESA_RECONCILIATION_WINDOW_MINUTES = env.int("MPESA_RECONCILIATION_WINDOW_MINUTES", default=10)
MPESA_STATEMENT_MAX_BYTES = env.int("MPESA_STATEMENT_MAX_BYTES", default=50 * 1024 * 1024)
# C2B validation (when Safaricom enabled it for the shortcode): refuse account numbers that match no group.
MPESA_C2B_REJECT_UNKNOWN_ACCOUNTS = env.bool("MPESA_C2B_REJECT_UNKNOWN_ACCOUNTS", default=True)
# B2C payouts without a Result this long get a Transaction Status query (at most this many per payout).
MPESA_B2C_QUERY_AFTER_SECONDS = env.int("MPESA_B2C_QUERY_AFTER_SECONDS", default=300)
MPESA_B2C_MAX_STATUS_QUERIES = env.int("MPESA_B2C_MAX_STATUS_QUERIES", default=5)
