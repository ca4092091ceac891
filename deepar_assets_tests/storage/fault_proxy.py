"""A small HTTP proxy in front of moto's S3 that injects faults at the HTTP level.

Requests pass through to the upstream endpoint unchanged, except those matching a fault
rule: for the first ``times`` matches the proxy answers an S3 XML error (500 InternalError,
503 SlowDown, 403 AccessDenied, ...), drops the connection halfway through the request body,
forwards the request and cuts the connection halfway through the response body, or takes the
request and never answers (hangs until the client gives up or the proxy stops).
Every request is recorded, so tests can count what the client really sent.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "te", "upgrade"}


@dataclass
class Fault:
    method: str
    path: str  # regular expression searched in the request's path and query
    times: int  # how many matching requests fail; later ones pass through
    status: int = 500
    code: str = "InternalError"
    drop: bool = False  # close the connection mid-body instead of answering
    cut: bool = False  # forward, then close the connection halfway through the response body
    hang: bool = False  # take the request, never answer
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.search(self.path, path) is not None


@dataclass
class Seen:
    method: str
    path: str
    fault: str | None  # what the proxy did instead of forwarding, if anything


@dataclass
class FaultProxy:
    upstream: str
    faults: list[Fault] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # releases the requests left hanging
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- rules ------------------------------------------------------------------------
    def fail(self, method: str, path: str, times: int, status: int = 500, code: str = "InternalError") -> Fault:
        fault = Fault(method, path, times, status=status, code=code)
        with self._lock:
            self.faults.append(fault)
        return fault

    def drop(self, method: str, path: str, times: int) -> Fault:
        fault = Fault(method, path, times, drop=True)
        with self._lock:
            self.faults.append(fault)
        return fault

    def cut(self, method: str, path: str, times: int) -> Fault:
        fault = Fault(method, path, times, cut=True)
        with self._lock:
            self.faults.append(fault)
        return fault

    def hang(self, method: str, path: str, times: int) -> Fault:
        fault = Fault(method, path, times, hang=True)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.requests.clear()

    def seen(self, method: str | None = None, path: str = "") -> list[Seen]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and re.search(path, r.path) is not None
            ]

    def _next_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.hits < fault.times and fault.matches(method, path):
                    fault.hits += 1
                    return fault
            return None

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    # -- server -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "the proxy is not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> FaultProxy:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fault-proxy", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._server is not None and self._thread is not None
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    upstream = urlsplit(proxy.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, 100-continue, as S3 speaks

        def log_message(self, format, *args):  # noqa: A002 - the base class's signature
            pass

        def _body_length(self) -> int:
            return int(self.headers.get("Content-Length") or 0)

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline().strip():  # trailers
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(self._body_length())

        def _handle(self) -> None:
            method, path = self.command, self.path
            fault = proxy._next_fault(method, path)
            if fault is not None and fault.drop:
                proxy._record(Seen(method, path, "dropped"))
                self.rfile.read(self._body_length() // 2)  # take half the body, then hang up
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            body = self._read_body()
            if fault is not None and fault.hang:
                proxy._record(Seen(method, path, "hung"))
                proxy._stopping.wait(120)  # no answer; the client's read timeout ends it
                self.close_connection = True
                return
            if fault is not None and fault.cut:
                proxy._record(Seen(method, path, "cut"))
                self._forward(body, cut=True)
                return
            if fault is not None:
                proxy._record(Seen(method, path, f"{fault.status} {fault.code}"))
                self._answer_error(fault)
                return
            proxy._record(Seen(method, path, None))
            self._forward(body)

        def _answer_error(self, fault: Fault) -> None:
            payload = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{fault.code}</Code><Message>injected by the test proxy</Message>"
                f"<Resource>{self.path}</Resource><RequestId>fault-proxy</RequestId></Error>"
            ).encode()
            self.send_response(fault.status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _forward(self, body: bytes, cut: bool = False) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                self.send_response(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in _HOP_BY_HOP | {"content-length", "server", "date"}:
                        self.send_header(name, value)
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(payload)))
                self.end_headers()
                if cut:  # the promised length, half the bytes, then hang up
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif self.command != "HEAD":
                    self.wfile.write(payload)
            finally:
                connection.close()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

    return Handler
