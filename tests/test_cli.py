"""The `procopt` command as a person runs it: each command in a fresh process, as after `make run`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tcp_entries(port: int, state: str) -> list[int]:
    """Socket inodes of 127.0.0.1:`port` in `state` (0A listening, 01 established), from /proc/net/tcp."""
    inodes = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == state:
            inodes.append(int(fields[9]))
    return inodes


def _socket_inodes(pid: int) -> set[int]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry.name))
            except OSError:
                continue
    return kids


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")
def test_serve_with_two_workers_spreads_connections_over_both(tmp_path):
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    assert procopt("migrate", url=url).returncode == 0
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "PROCOPT_ENV": "development", "LOG_LEVEL": "warning"}
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    clients: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while len(_tcp_entries(port, "0A")) < 2:  # each worker listens on a socket of its own
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "the workers did not start listening"
            time.sleep(0.2)
        for _ in range(24):  # keep-alive connections, as a proxy or a BI tool holds them
            conn = socket.create_connection(("127.0.0.1", port), timeout=10)
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            assert conn.recv(4096).startswith(b"HTTP/1.1 200")
            clients.append(conn)
        established = set(_tcp_entries(port, "01"))
        per_worker = [len(_socket_inodes(pid) & established) for pid in _children(server.pid)]
        assert sum(per_worker) == 24
        assert sorted(per_worker)[-2] > 0, f"one worker took every connection: {per_worker}"
    finally:
        for conn in clients:
            conn.close()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode == 0
