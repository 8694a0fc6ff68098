"""Running the reference server with uvicorn: in the foreground (``rtssync tms serve``) or on a
background thread (tests).

Both use :class:`~rtssync.tms.faults.ConnectionTrackingProtocol` (so faults can drop
connections) and switch uvicorn's own access log off: the server logs one line per request
itself, without the query string or any header.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from rtssync.errors import RtssyncError
from rtssync.tms.faults import ConnectionTrackingProtocol


def uvicorn_config(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=ConnectionTrackingProtocol,
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_keep_alive=30,
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening; a port in use or a host that is not
    this machine's is an RtssyncError (uvicorn would only log it and exit 3)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as error:
        raise RtssyncError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise RtssyncError(
            f"cannot listen on {host}:{port}: {error.strerror or error} "
            "(choose another --port, or stop what is using it)"
        ) from None
    return sock


def serve_forever(app: Starlette, sock: socket.socket) -> None:
    """Serve on ``sock`` (from :func:`listening_socket`) until interrupted (Ctrl-C / SIGTERM)."""
    host, port = sock.getsockname()[:2]
    uvicorn.Server(uvicorn_config(app, host, port)).run(sockets=[sock])


class ServerThread:
    """The server on a free loopback port, on a daemon thread; a context manager.

    Binding the socket here, before the thread starts, means :attr:`url` is known and connectable
    as soon as the constructor returns (the kernel queues connections until uvicorn accepts).
    """

    def __init__(self, app: Starlette, host: str = "127.0.0.1") -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self._socket.listen(128)
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._server = uvicorn.Server(uvicorn_config(app, host, self.port))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RtssyncError("the reference TMS server did not start")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> ServerThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
