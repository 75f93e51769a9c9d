"""The `procopt` command as a person runs it: each command in a fresh process, as after `make run`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]


def procopt(*args: str, url: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "PROCOPT_ENV": "development", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_migrate_demo_and_create_user_in_fresh_processes(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert procopt("migrate", url=url).returncode == 0
    demo = procopt("demo", url=url)
    assert demo.returncode == 0, demo.stderr
    assert "admin@example.com" in demo.stdout and "demo-admin-2026" in demo.stdout
    again = procopt("demo", url=url)
    assert again.returncode == 0 and "already has data" in again.stdout
    made = procopt("create-user", "--email", "Ops.Head@Example.com", "--password", "a long enough password",
                   "--role", "admin", url=url)
    assert made.returncode == 0, made.stderr
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        codes = {r[0] for r in conn.execute(sa.text("SELECT code FROM processes"))}
        roles = dict(conn.execute(sa.text("SELECT email_norm, role FROM users")).all())
    engine.dispose()
    assert {"YH-LC01", "YH-LC02"} <= codes
    assert roles["ops.head@example.com"] == "admin"


def test_production_refuses_demo_and_default_secret(tmp_path):
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    refused = procopt("migrate", url=url, env_extra={"PROCOPT_ENV": "production"})
    assert refused.returncode != 0 and "SECRET_KEY" in refused.stderr
    secret = {"PROCOPT_ENV": "production", "SECRET_KEY": "x" * 48}
    assert procopt("migrate", url=url, env_extra=secret).returncode == 0
    demo = procopt("demo", url=url, env_extra=secret)
    assert demo.returncode != 0 and "never loaded in production" in demo.stderr
