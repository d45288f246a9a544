"""Settings as production would load them: each case runs in a fresh interpreter."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-secret-key-" + "x" * 40 + "-with-enough-entropy-1234567890",
    "SAMOKODER_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "samokoder.example.com",
    "SAMOKODER_TESTING": "",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True
    )


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "samokoder_site.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
    )


def test_production_settings_pass_check_deploy():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_debug_off_refuses_to_start_without_a_secret_key():
    result = _manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_off_refuses_to_start_without_encryption_keys():
    result = _manage("check", **{**PRODUCTION, "SAMOKODER_ENCRYPTION_KEYS": ""})
    assert result.returncode != 0
    assert "SAMOKODER_ENCRYPTION_KEYS must be set" in result.stderr


def test_production_hashes_passwords_with_bcrypt_sha256_at_12_rounds():
    code = (
        "from django.contrib.auth.hashers import make_password;"
        "print(make_password('correct horse battery'))"
    )
    result = _python(code, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("bcrypt_sha256$$2b$12$")


def test_embedded_mode_generates_secrets_once_under_var(tmp_path):
    code = (
        "from django.conf import settings;"
        "print(settings.SECRET_KEY); print(settings.SAMOKODER_ENCRYPTION_KEYS[0])"
    )
    env = {"DEBUG": "true", "SECRET_KEY": "", "SAMOKODER_ENCRYPTION_KEYS": ""}
    first, second = _python(code, **env), _python(code, **env)

    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    secret_file = ROOT / "var" / "secret_key"
    assert secret_file.read_text().strip() == first.stdout.splitlines()[0]
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    Fernet(first.stdout.splitlines()[1].encode())  # a valid Fernet key


def test_env_example_as_written_starts_the_embedded_mode():
    """Copying .env.example to .env unchanged must work: empty values mean defaults."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    example = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.REDIS_URL, s.CELERY_BROKER_URL,"
        " s.SAMOKODER_WORKSPACES_DIR)"
    )
    result = _python(code, **{**example, "SAMOKODER_TESTING": "1"})

    assert result.returncode == 0, result.stderr
    engine, redis_url, broker, workspaces = result.stdout.split()
    assert engine == "django.db.backends.sqlite3"
    assert workspaces == str(ROOT / "var" / "workspaces")
    assert redis_url.startswith("redis://") and broker == redis_url
