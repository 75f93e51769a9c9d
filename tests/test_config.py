"""Settings: production refuses weak secrets with a clear message; password hashing defaults."""

from __future__ import annotations

import re

import pytest

from app.core.config import DEV_SECRET_KEY, ConfigError, Settings
from app.core.security import hash_password, verify_password

ENV_VARS = ("PROCOPT_ENV", "SECRET_KEY", "secret_key", "LOGIN_MAX_FAILURES_PER_ACCOUNT",
            "LOGIN_MAX_FAILURES_PER_ADDRESS", "LOGIN_WINDOW_SECONDS")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    """Neither the environment nor a `.env` file in the working directory leaks in."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def make(**kwargs) -> Settings:  # noqa: ANN003
    return Settings(_env_file=None, **kwargs)


def test_production_refuses_the_default_secret():
    with pytest.raises(ConfigError) as exc:
        make(PROCOPT_ENV="production")
    message = str(exc.value)
    assert "SECRET_KEY" in message
    assert "default" in message.lower()


def test_production_refuses_the_default_secret_given_explicitly():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        make(PROCOPT_ENV="production", secret_key=DEV_SECRET_KEY)


@pytest.mark.parametrize("secret", ["x" * 31, "short", "é" * 15 + "a"])
def test_production_refuses_a_short_secret(secret):
    assert len(secret.encode()) < 32
    with pytest.raises(ConfigError) as exc:
        make(PROCOPT_ENV="production", secret_key=secret)
    message = str(exc.value)
    assert "SECRET_KEY" in message
    assert "32" in message


def test_production_refuses_an_empty_secret():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        make(PROCOPT_ENV="production", secret_key="")


@pytest.mark.parametrize("secret", ["x" * 32, "k" * 64, "é" * 16])
def test_production_accepts_32_bytes_or_more(secret):
    assert len(secret.encode()) >= 32
    settings = make(PROCOPT_ENV="production", secret_key=secret)
    assert settings.is_production
    assert settings.secret_key == secret


def test_production_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("PROCOPT_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        make()
    monkeypatch.setenv("SECRET_KEY", "y" * 31)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        make()
    monkeypatch.setenv("SECRET_KEY", "y" * 48)
    assert make().is_production


def test_production_is_read_from_a_dotenv_file(tmp_path):
    env = tmp_path / "prod.env"
    env.write_text("PROCOPT_ENV=production\nSECRET_KEY=too-short\n")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings(_env_file=str(env))


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_and_test_may_use_the_default(environment):
    settings = make(PROCOPT_ENV=environment)
    assert settings.secret_key == DEV_SECRET_KEY
    assert not settings.is_production
    assert make(PROCOPT_ENV=environment, secret_key="short").secret_key == "short"


def test_default_environment_is_development():
    assert make().environment == "development"


def test_unknown_environment_is_refused():
    with pytest.raises(ValueError):
        make(PROCOPT_ENV="prod")


def test_login_limit_defaults():
    settings = make()
    assert settings.login_max_failures_per_account == 5
    assert settings.login_max_failures_per_address == 20
    assert settings.login_window_seconds == 900


def test_password_hashing_defaults_are_argon2id_with_owasp_strength():
    """Real parameters (the other test modules use cheap ones): OWASP's argon2id minimum is
    m=19 MiB, t=2, p=1 (or more memory with fewer passes)."""
    hashed = hash_password("some password")
    assert hashed.startswith("$argon2id$")
    params = dict(re.findall(r"([mtp])=(\d+)", hashed.split("$")[3]))
    memory_kib, passes = int(params["m"]), int(params["t"])
    assert memory_kib >= 19 * 1024
    assert passes >= 2 or memory_kib >= 46 * 1024
    assert verify_password("some password", hashed)
    assert not verify_password("some passwore", hashed)


def test_env_example_lists_every_setting():
    import re
    from pathlib import Path

    from app.core.config import Settings

    text = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.M))
    settings = {(f.validation_alias or name).upper() for name, f in Settings.model_fields.items()}
    assert settings - listed == set(), "settings missing from .env.example"
    assert listed - settings == set(), ".env.example lists unknown variables"


def test_database_concurrency_defaults_to_two_and_may_not_exceed_the_pool():
    assert make().db_concurrency == 2
    assert make(db_concurrency=10, db_pool_size=10).db_concurrency == 10
    with pytest.raises(ValueError, match="DB_CONCURRENCY"):
        make(db_concurrency=11, db_pool_size=10)
