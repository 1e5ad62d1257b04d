"""An HTTP gateway on 127.0.0.1 in front of a real S3 server that enforces SSE-C the way AWS documents it.

Neither moto nor ``rclone serve s3`` enforces SSE-C (both were checked: an object written with a
customer key comes back without it, or with another). This gateway forwards every request to the
server behind it unchanged, records the SSE-C headers each request carried, and refuses what AWS
refuses (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html):
reading (GET or HEAD) an object written with a customer key without one (400 ``InvalidRequest``,
AWS's words), or with another key (403 ``AccessDenied``). It does not encrypt anything: it stands
for the store's behaviour towards its clients, not for its disks.
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

ALGORITHM = "x-amz-server-side-encryption-customer-algorithm"
KEY_MD5 = "x-amz-server-side-encryption-customer-key-md5"
KEY = "x-amz-server-side-encryption-customer-key"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
_MISSING = (
    "<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>InvalidRequest</Code><Message>The object was stored "
    "using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object."
    "</Message></Error>"
)
_WRONG = "<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>AccessDenied</Code><Message>Forbidden</Message></Error>"


@dataclass(frozen=True)
class Seen:
    """One request: its method, object path (``/bucket/key``), query, and the key digest it carried (or None)."""

    method: str
    path: str
    query: str
    key_md5: str | None
    carried_key: bool
    encryption: str | None = None  #: ``x-amz-server-side-encryption`` (``aws:kms`` for SSE-KMS)


class SseCGateway:
    """Forwards ``127.0.0.1:port`` to ``target`` (an ``http://`` endpoint), enforcing SSE-C on reads."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.seen: list[Seen] = []
        self._written: dict[str, str] = {}  # object path -> the key digest it was written with
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet: pytest shows stderr of failures
                pass

            def _handle(self) -> None:
                gateway._serve(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sse-c-gateway", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> SseCGateway:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __enter__(self) -> SseCGateway:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def writes(self) -> list[Seen]:
        """The requests that wrote an object's bytes (PUT of an object, or of a multipart part)."""
        with self._lock:
            return [seen for seen in self.seen if seen.method == "PUT" and seen.path.count("/") >= 2]

    def object_reads(self) -> list[Seen]:
        """The requests that read an object's bytes or metadata (GET or HEAD of an object, not a listing)."""
        with self._lock:
            return [seen for seen in self.seen if seen.method in ("GET", "HEAD") and seen.path.count("/") >= 2]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        headers = {name.lower(): value for name, value in handler.headers.items()}
        body = _read_body(handler, headers)
        md5 = headers.get(KEY_MD5)
        carried = KEY in headers and ALGORITHM in headers
        seen = Seen(handler.command, path.rstrip("/"), query, md5, carried, headers.get("x-amz-server-side-encryption"))
        with self._lock:
            self.seen.append(seen)
            written = self._written.get(seen.path)
        is_object = seen.path.count("/") >= 2
        if is_object and handler.command in ("GET", "HEAD") and written is not None and md5 != written:
            _answer(handler, 400 if md5 is None else 403, _MISSING if md5 is None else _WRONG)
            return
        status, reply_headers, reply = self._forward(handler.command, handler.path, headers, body)
        if is_object and handler.command == "PUT" and 200 <= status < 300 and "uploadId" not in query:
            with self._lock:
                if md5 is None:
                    self._written.pop(seen.path, None)
                else:
                    self._written[seen.path] = md5
        elif is_object and handler.command == "POST" and "uploadId" in query and 200 <= status < 300:
            with self._lock:  # CompleteMultipartUpload: the object is encrypted as its upload was begun
                begun = [s.key_md5 for s in self.seen if (s.method, s.path, s.query) == ("POST", seen.path, "uploads")]
                if begun and begun[-1] is not None:
                    self._written[seen.path] = begun[-1]
        if handler.command == "DELETE" and 200 <= status < 300:
            with self._lock:
                self._written.pop(seen.path, None)
        handler.send_response(status)
        for name, value in reply_headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(reply)) if handler.command != "HEAD" else _length(reply_headers))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(reply)

    def _forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self._target, timeout=60)
        try:
            sent = {name: value for name, value in headers.items() if name not in _HOP_BY_HOP}
            if body or method in ("PUT", "POST"):
                sent["content-length"] = str(len(body))
            connection.request(method, target, body=body or None, headers=sent)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


def _read_body(handler: BaseHTTPRequestHandler, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline().strip():  # trailers, then the blank line
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    return handler.rfile.read(int(headers.get("content-length", "0") or 0))


def _answer(handler: BaseHTTPRequestHandler, status: int, xml: str) -> None:
    data = xml.encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/xml")
    handler.send_header("Content-Length", "0" if handler.command == "HEAD" else str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


def _length(headers: list[tuple[str, str]]) -> str:
    return next((value for name, value in headers if name.lower() == "content-length"), "0")
