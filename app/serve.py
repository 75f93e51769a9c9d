"""`procopt serve`: uvicorn, with each worker process listening on a socket of its own.

With `--workers N` uvicorn binds one socket and every worker accepts from it: the worker that wakes
first takes a whole burst of new connections. A client that keeps a few connections open (a reverse
proxy's keep-alive pool, a BI tool, bench/api.py's 32 connections) then often lands on one worker
while the others idle, halving the capacity (seen in about one benchmark run in three). Here each
worker binds its own `SO_REUSEPORT` socket to the address and the kernel spreads new connections
over them evenly; uvicorn's supervisor still starts, watches and restarts the workers.
"""

from __future__ import annotations

import socket
import sys

import uvicorn
from uvicorn.server import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess


def _bind(sock: socket.socket, address: tuple) -> socket.socket:
    """Bind `sock` to `address` beside the other workers' sockets on it."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def _worker_socket(family: int, address: tuple) -> socket.socket:
    return _bind(socket.socket(family, socket.SOCK_STREAM), address)


class _PerWorkerSocket(socket.socket):
    """Holds the address in the supervisor (bound, never listening, so it receives no connections);
    handed to a worker process it becomes that worker's own socket on the same address."""

    def __reduce_ex__(self, _protocol: object) -> tuple:
        return _worker_socket, (self.family, self.getsockname())


def serve(*, host: str, port: int, workers: int, log_level: str, access_log: bool) -> None:
    config = uvicorn.Config("app.main:create_app", factory=True, host=host, port=port, workers=workers,
                            log_level=log_level, access_log=access_log, proxy_headers=True)
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
