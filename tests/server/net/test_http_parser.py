"""The bounded httptools protocol on a real socket: a head over ``MAX_HEAD`` answered 431
whether it comes at once or a kilobyte at a time, everything under it served as before
(large bodies, pipelined requests, long keep-alive connections). ``securebox serve`` with
it: ``tests/server/test_serving.py``."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from starlette.types import Receive, Scope, Send
from uvicorn import Config, Server
from uvicorn.server import ServerState

from securebox_server.net.http_parser import MAX_HEAD, BoundedHttpToolsProtocol


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers the size of the request's body and of its header fields."""
    if scope["type"] != "http":
        return
    size = 0
    more = True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    fields = sum(len(n) + len(v) for n, v in scope["headers"])
    body = f"{size} {fields}".encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    settings = Config(echo, host="127.0.0.1", port=0, http=BoundedHttpToolsProtocol)
    settings.log_level = "critical"
    server = Server(settings)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    (listener,) = server.servers[0].sockets
    yield int(listener.getsockname()[1])
    server.should_exit = True
    thread.join(30)


class Connection:
    """A client connection reading responses framed by ``content-length``."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.socket.close()

    def sendall(self, data: bytes) -> None:
        self.socket.sendall(data)

    def _fill(self) -> bool:
        chunk = self.socket.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def answer(self) -> tuple[int, bytes]:
        """One response's status and body, or (0, b"") at the end of the stream."""
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                return 0, b""
        header, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(header.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(rest) < length:
            if not self._fill():
                return 0, b""
            header, _, rest = self.buffer.partition(b"\r\n\r\n")
        self.buffer = rest[length:]
        return int(header.split(b" ")[1]), rest[:length]

    def closed(self) -> bool:
        try:
            return self.socket.recv(1) == b""
        except ConnectionResetError:
            return True


def _request(field: int = 0, body: bytes = b"") -> bytes:
    head = b"POST / HTTP/1.1\r\nHost: x\r\n"
    if field:
        head += b"X-Big: " + b"a" * field + b"\r\n"
    return head + b"content-length: %d\r\n\r\n" % len(body) + body


def test_a_head_under_the_bound_is_served(port: int) -> None:
    with Connection(port) as c:
        c.sendall(_request(MAX_HEAD - 1024))
        status, body = c.answer()
    assert status == 200
    assert int(body.split()[1]) > MAX_HEAD - 1024


@pytest.mark.parametrize("piece", [1024, 1 << 20])
def test_a_head_over_the_bound_is_refused_431(port: int, piece: int) -> None:
    request = _request(4 * MAX_HEAD)
    with Connection(port) as c:
        try:
            for start in range(0, len(request), piece):
                c.sendall(request[start : start + piece])
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the end of the head
        status, body = c.answer()
        assert status == 431
        assert body == b"The request's head is too large."
        assert c.closed()


def test_an_endless_head_is_refused_before_it_ends(port: int) -> None:
    """A head that never ends (a slow client's, a kilobyte at a time) is cut at the bound:
    the answer comes while the client is still sending."""
    with Connection(port) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        c.socket.settimeout(0.05)
        status = 0
        while sent < 16 * MAX_HEAD:
            c.sendall(b"a" * 1024)
            sent += 1024
            try:
                if c.socket.recv(1, socket.MSG_PEEK):
                    c.socket.settimeout(30)
                    status, _ = c.answer()
                    break
            except TimeoutError:
                continue
        assert status == 431
        assert sent <= MAX_HEAD + 512 * 1024  # the bound, and at most a read beyond it


def test_a_large_body_in_one_write_is_not_a_head(port: int) -> None:
    body = b"b" * (3 * 1024 * 1024)
    with Connection(port) as c:
        c.sendall(_request(1000, body))
        status, answer = c.answer()
    assert status == 200
    assert int(answer.split()[0]) == len(body)


def test_pipelined_requests_and_long_connections(port: int) -> None:
    """A request begun in the same write as a large body before it (its head not yet
    whole), and 200 requests of large heads on one connection: the count starts again
    with each request, and a chunk holding the end of a body is not counted as a head."""
    with Connection(port) as c:
        second = _request(MAX_HEAD // 2)
        c.sendall(_request(100, b"c" * 1_000_000) + second[:100])
        assert c.answer()[0] == 200
        time.sleep(0.2)  # the head of the second request is read unfinished
        c.sendall(second[100:])
        assert c.answer()[0] == 200
        for _ in range(200):
            c.sendall(_request(MAX_HEAD // 2))
            assert c.answer()[0] == 200


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nhost: a\r\n\r\n", 200),
        (b"GET / HTTP/1.0\r\n\r\n", 200),
    ],
)
def test_an_http11_request_has_one_host(port: int, head: bytes, status: int) -> None:
    """RFC 9112, section 3.2 (h11 enforces it, llhttp does not): the request after a
    refused one on the same write is not read."""
    with Connection(port) as c:
        c.sendall(head + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.answer()[0] == status
        if status == 400:
            assert c.answer()[0] == 0  # closed: the second request was not answered


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\nHost: x\n\n",  # bare LF line endings
        b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",  # obsolete line folding
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",  # both framings: a smuggling vector
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
        b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",  # a space before the colon
    ],
)
def test_ambiguous_requests_are_refused(port: int, head: bytes) -> None:
    """What llhttp refuses (h11 reads the first three): RFC 9112, sections 2.2, 5.1, 5.2
    and 6.1."""
    with Connection(port) as c:
        c.sendall(head)
        assert c.answer()[0] == 400


class _Transport(asyncio.Transport):
    """What the protocol writes, and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )


@pytest.mark.parametrize("field", [MAX_HEAD, 3 * MAX_HEAD])
def test_a_head_over_the_bound_in_one_chunk_is_refused_431(field: int) -> None:
    # However the kernel cuts the bytes: a whole head in the first read (asyncio reads up
    # to 256 KiB at once) is measured by its parsed fields.
    loop = asyncio.new_event_loop()
    try:
        protocol = BoundedHttpToolsProtocol(
            config=Config(echo, log_config=None),
            server_state=ServerState(),
            app_state={},
            _loop=loop,
        )
        transport = _Transport()
        protocol.connection_made(transport)
        protocol.data_received(_request(field))
    finally:
        loop.close()
    assert transport.written.startswith(b"HTTP/1.1 431 ")
    assert transport.written.endswith(b"The request's head is too large.")
    assert transport.closing
