"""Worker memory under oversized anonymous bodies (issue 12 item 2): request bodies are bounded before they
are read, and uploads want a credential before theirs (app/core/limits.py, app/core/middleware.py).

    .venv/bin/python bench/body_limits.py

Starts `procopt serve` (one worker: the server process is the worker) on a temporary, migrated SQLite
database on a free 127.0.0.1 port and sends, one after the other, each streamed from a generator so that
the client never holds the body:

1. a 400 MB anonymous JSON body to `POST /api/v1/processes`, chunked (no Content-Length);
2. the same with `Content-Length: 419430400` declared;
3. a 1 GB anonymous multipart upload to `POST /api/v1/event-logs` with its Content-Length declared (as
   browsers and `curl -F` send it);
4. the same chunked.

For each: the status, the seconds until the answer, how much of the body the client had handed to the
socket by then, and the server's VmRSS before and after and its VmHWM (peak RSS) from /proc/<pid>/status.
Each request is bounded by a 120 s timeout; the server is stopped at the end, also on errors.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
MB = 1000 * 1000
CHUNK = 256 * 1024
BOUNDARY = "bench-boundary"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (kB) of a process."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


class Counted:
    """A body from a generator, counting what the client has taken of it."""

    def __init__(self, size: int, prefix: bytes = b"", suffix: bytes = b"") -> None:
        self.size, self.prefix, self.suffix, self.taken = size, prefix, suffix, 0

    def __iter__(self) -> Iterator[bytes]:
        if self.prefix:
            self.taken += len(self.prefix)
            yield self.prefix
        block = b"x" * CHUNK
        left = self.size
        while left > 0:
            n = min(CHUNK, left)
            left -= n
            self.taken += n
            yield block[:n]
        if self.suffix:
            self.taken += len(self.suffix)
            yield self.suffix

    def total(self) -> int:
        return len(self.prefix) + self.size + len(self.suffix)


def run_case(base: str, pid: int, name: str, path: str, body: Counted, content_type: str, declare: bool) -> dict:
    headers = {"Content-Type": content_type}
    if declare:
        headers["Content-Length"] = str(body.total())
    before = status_kb(pid)
    started = time.monotonic()
    try:
        r = httpx.post(base + path, content=iter(body), headers=headers, timeout=120)
        status = str(r.status_code)
    except httpx.HTTPError as exc:
        status = f"{type(exc).__name__}"
    seconds = time.monotonic() - started
    time.sleep(0.5)  # let the worker settle (freed buffers, closed files)
    after = status_kb(pid)
    return {"case": name, "status": status, "seconds": seconds, "sent_mb": body.taken / MB,
            "body_mb": body.total() / MB, "rss_before_mb": before["VmRSS"] / 1024,
            "rss_after_mb": after["VmRSS"] / 1024, "hwm_mb": after["VmHWM"] / 1024}


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="procopt-bench-limits-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "warning", "ACCESS_LOG": "false",
           "PROCOPT_ENV": "development", "TMPDIR": str(tmp)}
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--host", HOST, "--port", str(port),
                             "--workers", "1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the server did not start:\n" + (tmp / "server.log").read_text())
            time.sleep(0.2)
        for _ in range(20):  # a few ordinary requests first, so "before" is a warm worker
            httpx.get(base + "/healthz", timeout=5)
        prefix = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"process_id\"\r\n\r\n1\r\n"
                  f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"log.csv\"\r\n"
                  "Content-Type: text/csv\r\n\r\n").encode()
        suffix = f"\r\n--{BOUNDARY}--\r\n".encode()
        multipart = f"multipart/form-data; boundary={BOUNDARY}"
        cases = [
            ("400 MB JSON, chunked", "/api/v1/processes", Counted(400 * MB), "application/json", False),
            ("400 MB JSON, Content-Length", "/api/v1/processes", Counted(400 * MB), "application/json", True),
            ("1 GB upload, Content-Length", "/api/v1/event-logs", Counted(1000 * MB, prefix, suffix), multipart, True),
            ("1 GB upload, chunked", "/api/v1/event-logs", Counted(1000 * MB, prefix, suffix), multipart, False),
        ]
        print(f"procopt serve (1 worker, pid {proc.pid}) on {base}, SQLite {url}")
        print(f"server at start: VmRSS {status_kb(proc.pid)['VmRSS'] / 1024:.1f} MB")
        print(f"{'case':<30} {'status':>6} {'s':>6} {'sent MB':>9} {'of MB':>7} {'RSS before':>11} "
              f"{'RSS after':>10} {'peak (HWM)':>11}")
        for name, path, body, ctype, declare in cases:
            m = run_case(base, proc.pid, name, path, body, ctype, declare)
            print(f"{m['case']:<30} {m['status']:>6} {m['seconds']:6.2f} {m['sent_mb']:9.1f} {m['body_mb']:7.0f} "
                  f"{m['rss_before_mb']:9.1f}MB {m['rss_after_mb']:8.1f}MB {m['hwm_mb']:9.1f}MB")
        return 0
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


if __name__ == "__main__":
    sys.exit(main())
