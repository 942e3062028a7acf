"""The Lambda Runtime API (2018-06-01), served on 127.0.0.1 to one bootstrap.

    GET  /2018-06-01/runtime/invocation/next          blocks until an event
    POST /2018-06-01/runtime/invocation/{id}/response
    POST /2018-06-01/runtime/invocation/{id}/error
    POST /2018-06-01/runtime/init/error

Each process gets a server of its own (on a free port), so a request still
open from a killed process can never take the next process's event.

A lambda_runtime (hyper) client keeps its connection open between invokes.
TCP_NODELAY is set on every accepted socket: without it the kernel holds a
small response back until the client's delayed ACK, ~40-90 ms per invoke.

What the requests mean is up to the `sink` (a Sandbox): next_event(),
response(), error(), init_error(); this module only speaks HTTP.
"""

import base64
import json
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

PREFIX = "/2018-06-01/runtime/"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
# Streamed responses report a late error in trailers; the body is base64.
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"


class RuntimeApi:
    def __init__(self, sink) -> None:
        self.sink = sink
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self._listener.getsockname()[1]
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept_loop, name="host-executor-runtime-api", daemon=True).start()

    def _accept_loop(self) -> None:
        while True:
            try:
                connection, address = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._closed:
                    connection.close()
                    return
                self._connections.add(connection)
            threading.Thread(
                target=self._serve, args=(connection, address), name="host-executor-runtime-api-conn", daemon=True
            ).start()

    def _serve(self, connection: socket.socket, address) -> None:
        try:
            _Handler(connection, address, self)
        except OSError:
            pass
        finally:
            with self._lock:
                self._connections.discard(connection)
            connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections = list(self._connections)
        # shutdown() wakes a thread blocked in accept(); close() alone does not.
        for sock in [self._listener, *connections]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._listener.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # TCP_NODELAY, see the module's doc

    def log_message(self, format, *args) -> None:
        pass  # the function's own output is what belongs in its logs

    def do_GET(self) -> None:
        if self.path != PREFIX + "invocation/next":
            return self._reply(HTTPStatus.NOT_FOUND, _error("NotFound", self.path))
        event = self.server.sink.next_event()
        if event is None:  # the sandbox is going away
            self.close_connection = True
            return self._reply(HTTPStatus.GONE, _error("SandboxShutdown", "the environment is stopping"))
        self._reply(HTTPStatus.OK, event.body, event.headers)

    def do_POST(self) -> None:
        body, trailers = self._read_body()
        sink = self.server.sink
        error_type = self.headers.get(ERROR_TYPE_HEADER)
        if self.path == PREFIX + "init/error":
            return self._reply(*sink.init_error(body, error_type))
        route = self.path.removeprefix(PREFIX + "invocation/")
        request_id, _, action = route.partition("/")
        if route == self.path or not request_id or action not in ("response", "error"):
            return self._reply(HTTPStatus.NOT_FOUND, _error("NotFound", self.path))
        if action == "response" and ERROR_TYPE_HEADER.lower() in trailers:
            action, error_type = "error", trailers[ERROR_TYPE_HEADER.lower()]
            body = base64.b64decode(trailers.get(ERROR_BODY_TRAILER.lower(), "")) or body
        if action == "response":
            self._reply(*sink.response(request_id, body))
        else:
            self._reply(*sink.error(request_id, body, error_type))

    def _read_body(self) -> tuple[bytes, dict[str, str]]:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0)), {}
        chunks = []
        while True:
            size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk
        trailers = {}
        while (line := self.rfile.readline(65537)).strip():
            name, _, value = line.decode("latin-1").partition(":")
            trailers[name.strip().lower()] = value.strip()
        return b"".join(chunks), trailers

    def _reply(self, status: HTTPStatus, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        # Status line, headers and body in one write: one segment per reply.
        head = [f"HTTP/1.1 {status.value} {status.phrase}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in (headers or {"Content-Type": "application/json"}).items()]
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


def _error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()
