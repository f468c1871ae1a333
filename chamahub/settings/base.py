"""
Base settings. Boots with no environment at all: SQLite in the repo, local-memory
cache, Celery tasks run eagerly in-process, the local Daraja simulator.

Every value can be overridden from the environment; the README has the table.
"""

from datetime import timedelta
from pathlib import Path

import environ
from redis.backoff import NoBackoff
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# A development key is only acceptable while DEBUG is on; production.py refuses to boot without SECRET_KEY.
SECRET_KEY = env("SECRET_KEY", default="insecure-dev-key-change-me-" + "x" * 40)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "testserver", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "chamahub.apps.ChamaHubConfig",
    "accounts.apps.AccountsConfig",
    "groups.apps.GroupsConfig",
    "finance.apps.FinanceConfig",
    "investments.apps.InvestmentsConfig",
    "mpesa_integration.apps.MpesaIntegrationConfig",
]

MIDDLEWARE = [
    "chamahub.middleware.RequestIDMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chamahub.urls"
WSGI_APPLICATION = "chamahub.wsgi.application"
ASGI_APPLICATION = "chamahub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Project overrides of third-party templates (the offline ReDoc page).
        "DIRS": [BASE_DIR / "chamahub" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# DATABASE_URL unset -> SQLite file in the repo. Persistent connections either way: a new
# connection per request costs several times the throughput (shared/reference/reliability.md 4.2).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": 5,
            "application_name": "chamahub",
            # Bound every statement and lock wait so a stuck query never hangs a worker.
            "options": f"-c statement_timeout={env.int('DB_STATEMENT_TIMEOUT_MS', default=30000)}"
            f" -c lock_timeout={env.int('DB_LOCK_TIMEOUT_MS', default=10000)}",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Redis ------------------------------------------------------------------------------
# Every Redis client has short socket timeouts and NO automatic retries: redis-py 8.1's own default
# client retries 10 times with exponential backoff (a 0.25 s timeout took 6.7 s per operation,
# reliability.md 5.5). A hung or dead Redis must cost at most ~2 x REDIS_SOCKET_TIMEOUT per call.
REDIS_URL = env("REDIS_URL", default="")
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
REDIS_CACHE_OPTIONS = {
    "CLIENT_CLASS": "django_redis.client.DefaultClient",
    "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
    "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
    # A hung or dead Redis becomes a cache miss (and throttles fail open), never a failed request.
    "IGNORE_EXCEPTIONS": True,
    "CONNECTION_POOL_KWARGS": {
        "retry": Retry(NoBackoff(), 0),
        "retry_on_timeout": False,
        "health_check_interval": 30,
        "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=50),
    },
}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": REDIS_CACHE_OPTIONS,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="chamahub"),
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "chamahub"}}

# --- Celery ---------------------------------------------------------------------------------------
# REDIS_URL unset -> tasks run eagerly in-process; the outbox is dispatched on commit in-process.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not bool(REDIS_URL) and not env("CELERY_BROKER_URL", default="")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Africa/Nairobi"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Only workers and beat talk to the broker (the request path writes the outbox instead); still, every
# broker socket is bounded and a publish is retried at most once.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": 2,
    "socket_connect_timeout": 2,
    "retry_on_timeout": False,
    "health_check_interval": 30,
    "visibility_timeout": 3600,
    "max_retries": 1,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True

# --- Auth -----------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.PhoneOrEmailBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TOKEN_TTL_MINUTES = env.int("PASSWORD_RESET_TOKEN_TTL_MINUTES", default=30)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY),
    # A password change revokes every older token (access and refresh).
    "CHECK_REVOKE_TOKEN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# --- REST framework -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "chamahub.api.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        # Collection-only variants: detail routes skip filtering (see chamahub/api/filters.py).
        "chamahub.api.filters.CollectionFilterBackend",
        "chamahub.api.filters.CollectionSearchFilter",
        "chamahub.api.filters.CollectionOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "chamahub.api.schema.ChamaHubAutoSchema",
    "EXCEPTION_HANDLER": "chamahub.api.exceptions.exception_handler",
    "DEFAULT_METADATA_CLASS": "chamahub.api.metadata.MinimalMetadata",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "chamahub.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="60/min"),
        "user": env("THROTTLE_USER", default="1200/min"),
        "auth": env("THROTTLE_AUTH", default="20/min"),
    },
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

# Every choice set gets one stable component name in the schema (<ClassName>Enum), whichever field uses it.
SPECTACULAR_ENUMS = [
    "accounts.models.KYCStatus",
    "groups.choices.GroupType",
    "groups.choices.ContributionFrequency",
    "groups.choices.InterestMethod",
    "groups.choices.Role",
    "groups.choices.MembershipStatus",
    "groups.choices.InvitationStatus",
    "groups.choices.OfficialPosition",
    "groups.choices.GoalStatus",
    "finance.choices.AccountType",
    "finance.choices.AccountKind",
    "finance.choices.EntryKind",
    "finance.choices.PaymentMethod",
    "finance.choices.ContributionStatus",
    "finance.choices.FineKind",
    "finance.choices.FineStatus",
    "finance.choices.LoanStatus",
    "finance.choices.GuarantorStatus",
    "finance.choices.RepaymentStatus",
    "finance.choices.ExpenseCategory",
    "finance.choices.ExpenseStatus",
    "finance.choices.ApprovalType",
    "finance.choices.ApprovalStatus",
    "finance.choices.ShareOutStatus",
    "investments.choices.InvestmentType",
    "investments.choices.InvestmentStatus",
    "investments.choices.InvestmentTransactionType",
    "mpesa_integration.choices.TransactionKind",
    "mpesa_integration.choices.TransactionStatus",
    "mpesa_integration.choices.Purpose",
    "mpesa_integration.choices.Settlement",
    "mpesa_integration.choices.BulkPaymentStatus",
    "mpesa_integration.choices.BulkItemStatus",
    "mpesa_integration.choices.ReconciliationStatus",
    "mpesa_integration.choices.ExceptionKind",
    "mpesa_integration.choices.ExceptionResolution",
]

SPECTACULAR_SETTINGS = {
    "TITLE": "ChamaHub API",
    "DESCRIPTION": "Savings groups (chamas): members, contributions, loans, a double-entry ledger, investments.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {f"{path.rsplit('.', 1)[1]}Enum": path for path in SPECTACULAR_ENUMS},
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums"],
    "DISABLE_ERRORS_AND_WARNINGS": False,
}

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=["http://localhost:5173", "http://127.0.0.1:5173"])

# --- i18n / static --------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "Africa/Nairobi"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# whitenoise serves /static/ (admin, Swagger UI and ReDoc from drf-spectacular-sidecar) from gunicorn itself:
# the docs work offline and behind any proxy. In DEBUG it serves straight from the apps' static folders.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve from the apps' static folders too, so the docs work even before `collectstatic` (make run, tests).
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)

# --- Email ----------------------------------------------------------------------------------------
# EMAIL_URL unset -> the console backend (password-reset mails are printed). e.g. smtp+tls://user:pass@host:587
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="ChamaHub <no-reply@chamahub.local>")
FRONTEND_URL = env("FRONTEND_URL", default="http://localhost:5173")
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))

# --- Domain settings ------------------------------------------------------------------------------
CURRENCY = "KES"
LOAN_DEFAULT_DAYS = env.int("LOAN_DEFAULT_DAYS", default=90)  # days past due before a loan is marked defaulted
# Totals of list pages with at least this many rows are cached this long (chamahub/api/pagination.py).
COUNT_CACHE_MIN_ROWS = env.int("COUNT_CACHE_MIN_ROWS", default=1000)
COUNT_CACHE_SECONDS = env.int("COUNT_CACHE_SECONDS", default=10)
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=200)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=10)

# --- Logging --------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "chamahub.middleware.RequestIDLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- M-Pesa (Daraja) ------------------------------------------------------------------------------
from .mpesa import *  # noqa: E402, F403
