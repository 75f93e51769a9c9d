"""`procopt serve` never shares its port: its workers die with their supervisor, and a server refuses an
address that another process already serves (each worker binds with SO_REUSEPORT, which would let it
listen beside the other process)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.serve import STARTUP_FAILURE, PortInUse, ensure_port_free

ROOT = Path(__file__).resolve().parents[1]
REFUSAL = "is already served by another process"

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's /proc")


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "PROCOPT_ENV": "development", "LOG_LEVEL": "warning"}


def _procopt(*args: str, url: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=_env(url),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    migrated = _procopt("migrate", url=url, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    return url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listeners(port: int) -> int:
    """Sockets listening on `port` (any IPv4 address), from /proc/net/tcp."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            count += 1
    return count


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _workers(supervisor: int) -> list[int]:
    """The supervisor's worker processes (multiprocessing's spawned children, not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == supervisor and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def _server(url: str, port: int, workers: int = 2):
    """`procopt serve` in a session of its own, so that whatever it leaves is killed with its group."""
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                             "--workers", str(workers)], cwd=ROOT, env=_env(url), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (_healthy(port) and len(_workers(proc.pid)) == workers and _listeners(port) == workers):
            if proc.poll() is not None:
                pytest.fail(f"procopt serve exited with {proc.returncode}: {proc.stdout.read()}")
            assert time.monotonic() < deadline, "the server did not become healthy in 60 s"
            time.sleep(0.2)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        proc.stdout.close()


def test_workers_die_with_their_supervisor_and_a_served_port_is_refused(db_url):
    port = _free_port()
    with _server(db_url, port) as server:
        workers = _workers(server.pid)
        assert len(workers) == 2 and _listeners(port) == 2

        # A second server on the served port refuses to start instead of listening beside it.
        for count in ("2", "1"):
            second = _procopt("serve", "--port", str(port), "--workers", count, url=db_url)
            assert second.returncode == STARTUP_FAILURE, second.stderr
            assert f"port {port} on 127.0.0.1 {REFUSAL}" in second.stderr
        assert _listeners(port) == 2 and server.poll() is None

        server.send_signal(signal.SIGKILL)  # the supervisor only: its workers are left orphaned
        server.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in workers) or _listeners(port):
            assert time.monotonic() < deadline, (
                f"orphaned workers still running: {[pid for pid in workers if _alive(pid)]}, "
                f"{_listeners(port)} sockets listening")
            time.sleep(0.1)
    ensure_port_free("127.0.0.1", port)  # nothing serves the port any more: a new server may start


def test_serve_refuses_a_port_another_program_listens_on(tmp_path):
    url = f"sqlite:///{tmp_path / 'never-used.db'}"  # refused before anything opens the database
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # what a worker would share with
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(PortInUse, match=REFUSAL):
            ensure_port_free("127.0.0.1", port)
        refused = _procopt("serve", "--port", str(port), "--workers", "2", url=url)
        assert refused.returncode == STARTUP_FAILURE
        assert f"procopt: port {port} on 127.0.0.1 {REFUSAL}" in refused.stderr
        assert _listeners(port) == 1
    ensure_port_free("127.0.0.1", port)
