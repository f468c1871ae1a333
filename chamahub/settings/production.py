"""Production settings: fail fast on missing configuration, HTTPS everywhere."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
if not DEBUG and (not SECRET_KEY or len(SECRET_KEY) < 50 or SECRET_KEY.startswith("insecure")):
    raise ImproperlyConfigured("SECRET_KEY must be set (50+ random characters) when DEBUG is off.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["chamahub.example.com"])
MPESA_CALLBACK_SECRET = env("MPESA_CALLBACK_SECRET", default="") or callback_secret_default(SECRET_KEY)  # noqa: F405
_mpesa_credentials = (MPESA_CONSUMER_KEY, MPESA_CONSUMER_SECRET, MPESA_PASSKEY)  # noqa: F405
_simulator_credentials = MPESA_CONSUMER_KEY == "simulator-consumer-key" or not all(_mpesa_credentials)  # noqa: F405
if not DEBUG and _simulator_credentials and not env.bool("MPESA_ALLOW_SIMULATOR", default=False):
    raise ImproperlyConfigured("Set MPESA_CONSUMER_KEY/SECRET, MPESA_PASSKEY (or MPESA_ALLOW_SIMULATOR=1).")
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY)}  # noqa: F405

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
