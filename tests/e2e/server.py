"""A live procopt server for browser tests and screenshots.

The server runs in a subprocess (uvicorn, the app factory) on a free port, against a fresh
SQLite file migrated by Alembic and loaded with the demo data (`procopt demo`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ADMIN = ("admin@example.com", "demo-admin-2026")
LEAD = ("lead@example.com", "demo-lead-2026")

# Migrate the fresh database and load the demo data, in a process of its own (the settings are
# read from the environment once per process).
_PREPARE = (
    "import sys\n"
    "from app.core.migrate import upgrade\n"
    "from app.cli import main\n"
    "upgrade(sys.argv[1])\n"
    "main(['demo', '--quiet'])\n"
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(timeout: float = 30.0, database_url: str | None = None) -> Iterator[str]:
    """Yield the base URL of a running server with demo data; stop it and remove its files after. The database is
    a fresh SQLite file, or `database_url` (an empty database the caller made and drops)."""
    tmp = Path(tempfile.mkdtemp(prefix="procopt-e2e-"))
    url = database_url or f"sqlite:///{tmp / 'e2e.db'}"
    env = {**os.environ, "DATABASE_URL": url, "PROCOPT_ENV": "development", "LOG_LEVEL": "warning"}
    env.pop("TEST_DATABASE_URL", None)
    port = free_port()
    log_path = tmp / "server.log"
    # The server starts while the database is prepared (both import the app: seconds each); it
    # touches the database only when asked, after `prepare` is done.
    prepare = subprocess.Popen([PYTHON, "-c", _PREPARE, url], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [PYTHON, "-m", "uvicorn", "app.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _, err = prepare.communicate(timeout=120)
        if prepare.returncode != 0:
            raise RuntimeError(f"migrating and loading the demo data failed:\n{err.decode(errors='replace')}")
        _wait_healthy(base, proc, log_path, timeout)
        yield base
    finally:
        if prepare.poll() is None:
            prepare.kill()
            prepare.wait()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


def _wait_healthy(base: str, proc: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not become healthy in {timeout:.0f}s:\n"
                       f"{log_path.read_text(errors='replace')}")


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python playwright package is not installed (pip install -e '.[dev]')"
    return None


def launch_browser(playwright):  # noqa: ANN001, ANN201
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
