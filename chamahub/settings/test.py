"""Test settings: fast hashing, no throttling, in-memory email. Honors DATABASE_URL / REDIS_URL."""

from .base import *  # noqa: F403
from .base import CACHES, REDIS_URL, REST_FRAMEWORK, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
# Tests always dispatch in-process so behaviour is deterministic; the broker path has its own test.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
if REDIS_URL:
    # Own key space on a shared Redis: the per-test cache reset (conftest.py) deletes only these keys.
    CACHES = {"default": {**CACHES["default"], "KEY_PREFIX": "chamahub-test"}}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
