"""Faults injected at the transport: a TCP proxy that can refuse or drop connections.

Put it between batchlake and a real database (PostgreSQL): while `down` is set, or when
`fail()` says so, a new connection is closed at once, exactly as when the server is
unreachable; otherwise bytes are relayed both ways unchanged.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable


class FlakyProxy:
    def __init__(self, target: tuple[str, int], fail: Callable[[], bool] | None = None) -> None:
        self.target = target
        self.fail = fail or (lambda: False)
        self.down = False
        self.refused = 0
        self.relayed = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="flaky-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.down or self.fail():
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self.relayed += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._server.close()

    def __enter__(self) -> FlakyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
