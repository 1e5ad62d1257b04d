"""A TCP proxy on 127.0.0.1 that can black-hole the store behind it, for fault tests.

``black_hole()`` makes the proxy swallow traffic: connections open at that moment stop
being forwarded, and new ones are accepted and then held without an answer, as when
packets are dropped on the way. ``recover()`` forwards new connections again; the
connections held meanwhile stay silent until the proxy stops, like connections lost in
a real outage, which the client has to notice and give up on.
"""

from __future__ import annotations

import selectors
import socket
import threading
from types import TracebackType


class FaultProxy:
    """Forwards ``127.0.0.1:port`` to ``target`` until told to black-hole it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._holding = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pipes: list[_Pipe] = []
        self._threads: list[threading.Thread] = []

    @property
    def endpoint(self) -> str:
        """The proxy's URL, to use as the S3 endpoint."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._spawn(self._accept)
        return self

    def black_hole(self) -> None:
        """From now on forward nothing: hold every connection, open or new."""
        self._holding.set()
        with self._lock:
            for pipe in self._pipes:
                pipe.held.set()

    def recover(self) -> None:
        """Forward new connections again (the ones held stay held)."""
        self._holding.clear()

    def stop(self) -> None:
        """Close every connection and the listener, and wait for the threads."""
        self._stopping.set()
        self._listener.close()
        with self._lock:
            for pipe in self._pipes:
                pipe.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="fault-proxy")  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            pipe = _Pipe(client)
            with self._lock:
                if self._stopping.is_set():  # accepted while stop() was closing the others
                    pipe.close()
                    return
                self._pipes.append(pipe)
            if self._holding.is_set():
                pipe.held.set()
            else:
                self._spawn(self._forward, pipe)

    def _forward(self, pipe: _Pipe) -> None:
        try:
            server = socket.create_connection(self._target, timeout=5)
        except OSError:
            pipe.close()
            return
        peers = {pipe.client: server, server: pipe.client}
        with selectors.DefaultSelector() as selector:
            with self._lock:  # stop() closes pipes under this lock: register only sockets it has not closed
                if self._stopping.is_set():  # stop() closed this pipe while the connection was made
                    server.close()
                    return
                pipe.server = server
                for sock in peers:
                    selector.register(sock, selectors.EVENT_READ)
            while not pipe.held.is_set() and not self._stopping.is_set():
                for key, _ in selector.select(timeout=0.1):
                    if pipe.held.is_set():
                        break
                    try:
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            pipe.close()
                            return
                        peers[key.fileobj].sendall(data)  # type: ignore[index]
                    except OSError:
                        pipe.close()
                        return


class _Pipe:
    """One client connection and, once forwarded, its connection to the target."""

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.server: socket.socket | None = None
        self.held = threading.Event()

    def close(self) -> None:
        for sock in (self.client, self.server):
            if sock is not None:
                sock.close()
