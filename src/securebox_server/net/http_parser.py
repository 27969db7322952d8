"""The HTTP/1.1 parser of ``securebox serve``: httptools, with a bound on a request's head
(ADR 0062).

uvicorn parses requests with h11 (pure Python) unless told to use httptools (llhttp, in
C). httptools takes about a third less of the server's CPU for a bare request (measured:
``/healthz`` 0.50 → 0.33 ms on one worker), but uvicorn's httptools protocol sets no
bound on a request's head: a 10 MB header field is read whole and answered, where h11
answers 400 beyond its buffer. :class:`BoundedHttpToolsProtocol` is uvicorn's httptools
protocol with a bound: once a request's head (request line and header fields) has gone on
for more than :data:`MAX_HEAD` bytes, the server answers ``431 Request Header Fields Too
Large`` and closes the connection. nginx's default (``large_client_header_buffers 4 8k``)
is well under it.

A head is measured two ways, and refused by whichever sees it first:

* the parsed pieces: the request target and each header field's name and value, as the
  parser hands them over (whatever the chunks they came in: a whole head that arrives in
  one read, up to asyncio's 256 KiB, is refused once its fields are parsed);
* the chunks: the bytes received while a head goes on, counted from the chunk after the
  one in which the request began (so a chunk that ends one request's body and begins the
  next request is never counted against the new head), which stops a single field that
  never ends at most one chunk beyond the bound.

Either way the memory a connection holds stays bounded.

It also answers 400 to an HTTP/1.1 request without exactly one ``Host`` header field
(RFC 9112, section 3.2), as h11 does and llhttp does not.
"""

from __future__ import annotations

from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["MAX_HEAD", "BoundedHttpToolsProtocol"]

#: The largest request head (request line and header fields) read, in bytes.
MAX_HEAD: Final = 64 * 1024
_MESSAGE: Final = b"The request's head is too large."
_REFUSAL: Final = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\n"
    b"connection: close\r\n"
    b"\r\n%s" % (len(_MESSAGE), _MESSAGE)
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head over :data:`MAX_HEAD`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._requests = 0  # requests begun on the connection
        self._in_head = False
        self._head = 0  # bytes of the current head, past its first chunk
        self._parsed = 0  # bytes of the current head's target and fields, as parsed
        self._too_large = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._requests += 1
        self._in_head = True
        self._head = 0
        self._parsed = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._parsed += size
        if self._parsed > MAX_HEAD:
            # An error raised in a callback stops the parser; uvicorn then answers through
            # send_400_response, which answers 431 instead for this one.
            self._too_large = True
            raise ValueError("the request's head is too large")

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _refuse(self) -> None:
        self.logger.warning("Request head over %d bytes: refused (431).", MAX_HEAD)
        self.transport.write(_REFUSAL)
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_head = False
        hosts = sum(1 for name, _ in self.headers if name == b"host")
        if hosts != 1 and self.parser.get_http_version() == "1.1":
            # RFC 9112, section 3.2: an HTTP/1.1 request without a Host header field, or
            # with more than one, is answered 400 (h11 does; llhttp leaves it to the
            # server). An error raised in a callback stops the parser, and uvicorn answers
            # it as a malformed request: 400, connection closed.
            raise ValueError("a Host header field is required, once")
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        request, in_head = self._requests, self._in_head
        super().data_received(data)
        if not (in_head and self._in_head and self._requests == request):
            return  # no head went on through the whole chunk
        if self.transport.is_closing():
            return
        self._head += len(data)
        if self._head > MAX_HEAD:
            self._refuse()
