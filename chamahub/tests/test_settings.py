"""Configuration facts: production settings are deploy-clean and fail fast; connections persist."""

from __future__ import annotations

import secrets
import subprocess
import sys

from django.conf import settings

from chamahub.tests.support import REPO_ROOT, clean_env


def run_django(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_pass_check_deploy_with_zero_warnings():
    result = run_django(
        "import sys; from django.core.management import execute_from_command_line;"
        " execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        DJANGO_SETTINGS_MODULE="chamahub.settings.production",
        SECRET_KEY=secrets.token_urlsafe(60),
        MPESA_ALLOW_SIMULATOR="1",
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_settings_refuse_to_boot_without_a_secret_key():
    result = run_django("import django; django.setup()", DJANGO_SETTINGS_MODULE="chamahub.settings.production")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_settings_refuse_the_development_key():
    result = run_django(
        "import django; django.setup()",
        DJANGO_SETTINGS_MODULE="chamahub.settings.production",
        SECRET_KEY="insecure-dev-key-change-me-" + "x" * 40,
    )

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_base_settings_boot_with_no_environment_on_sqlite_locmem_and_eager_celery():
    result = run_django(
        "import django; django.setup(); from django.conf import settings as s;"
        " print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER)",
        DJANGO_SETTINGS_MODULE="chamahub.settings.base",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "django.db.backends.sqlite3",
        "django.core.cache.backends.locmem.LocMemCache",
        "True",
    ]


def test_with_postgres_and_redis_urls_the_same_code_uses_them():
    result = run_django(
        "import django; django.setup(); from django.conf import settings as s;"
        " d = s.DATABASES['default']; c = s.CACHES['default'];"
        " print(d['ENGINE'], d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'], c['BACKEND'],"
        " c['OPTIONS']['CONNECTION_POOL_KWARGS']['retry'].get_retries(),"
        " s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL)",
        DJANGO_SETTINGS_MODULE="chamahub.settings.base",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/chamahub",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "60",
        "True",
        "django_redis.cache.RedisCache",
        "0",
        "False",
        "redis://127.0.0.1:6379/0",
    ]


def test_database_connections_are_persistent_and_health_checked():
    database = settings.DATABASES["default"]

    assert database["CONN_MAX_AGE"] > 0
    assert database["CONN_HEALTH_CHECKS"] is True


def test_every_redis_client_is_bounded():
    options = settings.REDIS_CACHE_OPTIONS
    assert 0 < options["SOCKET_TIMEOUT"] <= 1
    assert 0 < options["SOCKET_CONNECT_TIMEOUT"] <= 1
    assert options["IGNORE_EXCEPTIONS"] is True
    assert options["CONNECTION_POOL_KWARGS"]["retry"].get_retries() == 0

    transport = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert 0 < transport["socket_timeout"] <= 2
    assert 0 < transport["socket_connect_timeout"] <= 2
    assert settings.CELERY_TASK_PUBLISH_RETRY_POLICY["max_retries"] <= 1


def test_production_settings_refuse_the_simulator_credentials():
    result = run_django(
        "import django; django.setup()",
        DJANGO_SETTINGS_MODULE="chamahub.settings.production",
        SECRET_KEY=secrets.token_urlsafe(60),
    )

    assert result.returncode != 0
    assert "MPESA_CONSUMER_KEY" in result.stderr


def test_production_derives_the_callback_secret_from_its_own_secret_key():
    code = "import django; django.setup(); from django.conf import settings as s; print(s.MPESA_CALLBACK_SECRET)"
    first = run_django(
        code, DJANGO_SETTINGS_MODULE="chamahub.settings.production", SECRET_KEY="a" * 60, MPESA_ALLOW_SIMULATOR="1"
    )
    second = run_django(
        code, DJANGO_SETTINGS_MODULE="chamahub.settings.production", SECRET_KEY="b" * 60, MPESA_ALLOW_SIMULATOR="1"
    )

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert len(first.stdout.strip()) == 40
    assert first.stdout != second.stdout


def test_production_refuses_empty_mpesa_credentials_and_derives_a_secret_for_an_empty_one():
    base = {"DJANGO_SETTINGS_MODULE": "chamahub.settings.production", "SECRET_KEY": "c" * 60}
    code = "import django; django.setup(); from django.conf import settings as s; print(s.MPESA_CALLBACK_SECRET)"
    empty_key = run_django(code, **base, MPESA_CONSUMER_KEY="", MPESA_CONSUMER_SECRET="x", MPESA_PASSKEY="y")
    configured = run_django(
        code, **base, MPESA_CONSUMER_KEY="k", MPESA_CONSUMER_SECRET="x", MPESA_PASSKEY="y", MPESA_CALLBACK_SECRET=""
    )

    assert empty_key.returncode != 0 and "MPESA_CONSUMER_KEY" in empty_key.stderr
    assert configured.returncode == 0, configured.stderr
    assert len(configured.stdout.strip()) == 40  # an empty MPESA_CALLBACK_SECRET never means "no secret"
