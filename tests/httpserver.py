"""A scripted HTTP server on 127.0.0.1, port 0, for real vendor SDKs to talk to."""

from __future__ import annotations

import itertools
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, object] | list[object] = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain"
        return self.body, "application/octet-stream"


class ScriptedServer:
    """Replies are queued per path suffix; every request is recorded."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._script: list[tuple[str, Reply]] = []
        self._lock = threading.Lock()
        self.url = ""
        self.default: Callable[[Recorded], Reply] | None = None  # answers what nothing scripted matches

    def expect(self, path_contains: str, *replies: Reply) -> None:
        """Queue replies for requests whose path contains this text (first match wins)."""
        with self._lock:
            self._script.extend((path_contains, r) for r in replies)

    def _next(self, request: Recorded) -> Reply:
        with self._lock:
            for i, (needle, reply) in enumerate(self._script):
                if needle in request.path:
                    del self._script[i]
                    return reply
        if self.default is not None:
            return self.default(request)
        path = request.path
        return Reply(404, {"error": {"message": f"nothing scripted for {path}", "code": 404}})

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = Recorded(self.command, parts.path, parse_qs(parts.query),
                                    {k.lower(): v for k, v in self.headers.items()}, body)
                server.requests.append(recorded)
                reply = server._next(recorded)
                data, ctype = reply.encoded()
                self.send_response(reply.status)
                headers = {"Content-Type": ctype, **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: object) -> None:
                pass

        return Handler


class _QuietServer(ThreadingHTTPServer):
    # The listen backlog: the default of 5 resets connections when several daemons (a crash test) call at
    # once on a busy machine; a real provider accepts them.
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client killed mid-request (the crash tests do that) is not an error here


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    """Start a ScriptedServer on 127.0.0.1:0; it stops when the block ends."""
    scripted = ScriptedServer()
    httpd = _QuietServer(("127.0.0.1", 0), scripted.handler())
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    scripted.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield scripted
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@contextmanager
def raw_server(mode: str) -> Iterator[int]:
    """A TCP port that never answers ("silent") or resets every connection ("reset")."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if mode == "reset":
                conn.recv(65536)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        for conn in held:
            conn.close()


_answers = itertools.count(1)


def chat_answer(request: Recorded) -> Reply:
    """An OpenAI-compatible chat answer a person could send, different each time: the sendable check holds
    repeats, echoes of the contact's words and the prompt's tags, so a scripted twin must not send those."""
    request.json()
    text = f"sure, talk soon ({next(_answers)})"
    return Reply(200, {"choices": [{"message": {"role": "assistant", "content": text}}]})
