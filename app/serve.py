"""`procopt serve`: uvicorn, with each worker process listening on a socket of its own.

With `--workers N` uvicorn binds one socket and every worker accepts from it: the worker that wakes
first takes a whole burst of new connections. A client that keeps a few connections open (a reverse
proxy's keep-alive pool, a BI tool, bench/api.py's 32 connections) then often lands on one worker
while the others idle, halving the capacity (seen in about one benchmark run in three). Here each
worker binds its own `SO_REUSEPORT` socket to the address and the kernel spreads new connections
over them evenly; uvicorn's supervisor still starts, watches and restarts the workers.

`SO_REUSEPORT` also lets any other process of the same user listen beside them, so two guards:

- A worker dies with its supervisor (`_die_with_supervisor`). Before, a `kill -9` of the supervisor left
  its workers serving, and a second `procopt serve` started beside them: one token got 200 from the
  old workers and 401 from the new ones (another SECRET_KEY).
- A server refuses an address that another process already serves (`ensure_port_free`): exit code 3,
  uvicorn's STARTUP_FAILURE, which is also what uvicorn itself exits with when its bind fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import sys
import threading
import time

import uvicorn
from uvicorn.server import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

__all__ = ["STARTUP_FAILURE", "PortInUse", "ensure_port_free", "serve"]

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_SECONDS = 0.5
# An orphaned worker shuts down gracefully (SIGTERM: stop listening, finish its requests); one that is
# still running after this long exits anyway.
ORPHAN_GRACE_SECONDS = 10.0


class PortInUse(RuntimeError):
    """Another process (group) already serves the address."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"port {port} on {host} is already served by another process; stop it first "
                         f"(an orphaned `procopt serve` worker too) or choose another --port")
        self.host, self.port = host, port


def ensure_port_free(host: str, port: int) -> None:
    """Refuse an address that something listens on, before binding with `SO_REUSEPORT`, which would let
    this server listen beside it. A plain socket (`SO_REUSEADDR`, so that connections of an earlier run
    in TIME_WAIT do not count; no `SO_REUSEPORT`) cannot bind where another socket listens."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(host, port) from None
            raise


def _set_parent_death_signal() -> None:
    """Linux: the kernel sends SIGTERM to this process when the thread that started it exits (uvicorn's
    supervisor starts workers from its main thread), even after `kill -9`."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _watch_supervisor(supervisor_pid: int) -> None:
    """The portable check beside the death signal: once the worker's parent is no longer the supervisor
    (it was re-parented to init or a subreaper), shut down like on SIGTERM, and exit for good after
    ORPHAN_GRACE_SECONDS."""
    while os.getppid() == supervisor_pid:
        time.sleep(PARENT_POLL_SECONDS)
    print(f"procopt: worker {os.getpid()}: supervisor {supervisor_pid} is gone, exiting", file=sys.stderr)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE_SECONDS)
    os._exit(1)


def _die_with_supervisor(supervisor_pid: int) -> None:
    """In a worker, at its start: exit when the supervisor that started it is gone. The death signal is
    set first, then the parent checked, so that a supervisor that died in between is noticed too."""
    _set_parent_death_signal()
    if os.getppid() != supervisor_pid:
        print(f"procopt: worker {os.getpid()}: supervisor {supervisor_pid} is gone, not starting",
              file=sys.stderr)
        os._exit(1)
    threading.Thread(target=_watch_supervisor, args=(supervisor_pid,), name="procopt-supervisor-watch",
                     daemon=True).start()


def _bind(sock: socket.socket, address: tuple) -> socket.socket:
    """Bind `sock` to `address` beside the other workers' sockets on it."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def _worker_socket(family: int, address: tuple, supervisor_pid: int) -> socket.socket:
    """Runs in a new worker process, when its arguments are unpickled, before uvicorn starts there."""
    _die_with_supervisor(supervisor_pid)
    return _bind(socket.socket(family, socket.SOCK_STREAM), address)


class _PerWorkerSocket(socket.socket):
    """Holds the address in the supervisor (bound, never listening, so it receives no connections);
    handed to a worker process it becomes that worker's own socket on the same address, and ties the
    worker's life to the supervisor's (pickled in the supervisor, so `os.getpid()` is the supervisor)."""

    def __reduce_ex__(self, _protocol: object) -> tuple:
        return _worker_socket, (self.family, self.getsockname(), os.getpid())


def serve(*, host: str, port: int, workers: int, log_level: str, access_log: bool) -> None:
    """Serve the app; raises `PortInUse` when another process already serves host:port."""
    config = uvicorn.Config("app.main:create_app", factory=True, host=host, port=port, workers=workers,
                            log_level=log_level, access_log=access_log, proxy_headers=True)
    ensure_port_free(host, port)
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        server = uvicorn.Server(config)
        server.run()
        if not server.started:  # as `uvicorn.run`: a failed start-up is an error exit
            sys.exit(STARTUP_FAILURE)
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    placeholder = _bind(_PerWorkerSocket(family, socket.SOCK_STREAM), (host, port))
    try:
        Multiprocess(config, sockets=[placeholder]).run()
    except KeyboardInterrupt:
        pass
    finally:
        placeholder.close()
