from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from config.logging import RedactFeedTokens

ROOT = Path(__file__).resolve().parents[2]


def test_deploy_checks_are_clean_with_production_environment():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "x" * 30 + "-production-only-secret-0123456789abcdef",
        "DJANGO_ALLOWED_HOSTS": "rounds.example.com",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_with_redis_configured_the_cache_is_the_shared_client_backend():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SETTINGS_MODULE": "config.settings.production", "DJANGO_SECRET_KEY": "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "rounds.example.com", "REDIS_URL": "redis://127.0.0.1:6379/14",
    }
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.core.cache import caches; "
                               "print(type(caches['default']).__module__, type(caches['default']).__name__)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.stdout.split() == ["config.cache", "SharedClientRedisCache"], done.stdout + done.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.production", DJANGO_ALLOWED_HOSTS="rounds.example.com")
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY" in done.stderr


def test_feed_tokens_are_redacted_from_log_lines():
    record = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"GET %s HTTP/1.1" 200', ("/feeds/therapists/s3cr3tT0ken.ics",), None
    )
    assert RedactFeedTokens().filter(record) is True
    assert "s3cr3tT0ken" not in record.getMessage()
    assert "/feeds/therapists/<redacted>" in record.getMessage()
