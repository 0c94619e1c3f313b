"""One HTTP/1.1 request over a socket: what the remote client needs and no more.

urllib.request (with http.client, email and ssl) costs an agent's every command
as much time to import as Python takes to start; this sends one request with
``Connection: close`` and reads one answer (``Content-Length``, chunked, or to
the end), with a timeout on every socket operation and a bound on every part
of the answer.  ssl is imported for https only.  Where the environment names
a proxy for the server (``HTTPS_PROXY``, ``HTTP_PROXY``, not ``NO_PROXY``),
the request goes through urllib.request instead, which knows proxies.
"""

from __future__ import annotations

import os
import re
import socket
TYPE_CHECKING = False  # typing is not imported at run time (start-up of a remote command)
if TYPE_CHECKING:
    from typing import Mapping

MAX_LINE = 64 * 1024  # bytes of a status or header line
MAX_HEADERS = 100


class HttpError(OSError):
    """No answer: the server cannot be reached, or what it sent is not HTTP."""


class Url:
    """What :func:`urllib.parse.urlsplit` answers, for the parts the client reads."""

    __slots__ = ("scheme", "netloc", "hostname", "port", "path", "query", "fragment")

    def __init__(self, scheme: str, netloc: str, hostname: str | None, port: int | None, path: str,
                 query: str, fragment: str) -> None:
        self.scheme, self.netloc, self.hostname, self.port = scheme, netloc, hostname, port
        self.path, self.query, self.fragment = path, query, fragment


# http(s)://name[:port][/path][?query][#fragment] with a plain DNS name or IPv4 address:
# what a desk's address is.  Anything else (user info, IPv6, odd characters) goes to urllib.parse.
_PLAIN = re.compile(r"(https?)://([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::([0-9]{1,5}))?"
                    r"(/[^?#\s]*)?(?:\?([^#\s]*))?(?:#(\S*))?")
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def split_url(url: str) -> Url:
    """What urlsplit answers, without importing urllib.parse (with ipaddress, a
    tenth of an agent's remote command) for the plain addresses of desk servers
    (tests/cli/test_remote.py compares the two); urlsplit's own answer for the
    rest.  A port above 65535 raises ValueError, as urlsplit's ``.port`` does."""
    plain = _PLAIN.fullmatch(url)
    if plain is None:
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        return Url(parts.scheme, parts.netloc, parts.hostname, parts.port, parts.path, parts.query,
                   parts.fragment)
    scheme, host, port, path, query, fragment = plain.groups()
    number = int(port) if port else None
    if number is not None and number > 65535:
        raise ValueError("Port out of range 0-65535")
    netloc = host + (f":{port}" if port is not None else "")
    return Url(scheme, netloc, host.lower(), number, path or "", query or "", fragment or "")


def quote_segment(text: str) -> str:
    """``urllib.parse.quote(text, safe="")``: each UTF-8 byte outside the unreserved
    characters (RFC 3986: letters, digits, ``-._~``) as %XX."""
    if _UNRESERVED.fullmatch(text):
        return text
    return "".join(c if _UNRESERVED.fullmatch(c) else "".join(f"%{b:02X}" for b in c.encode("utf-8"))
                   for c in text)


def request(method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float,
            max_body: int) -> tuple[int, bytes]:
    """(status, body) of one request; the body is cut at ``max_body + 1`` bytes
    so that the caller can tell it was too large."""
    parts = split_url(url)
    if _proxied(parts):
        return _via_urllib(method, url, headers, body, timeout, max_body)
    https = parts.scheme == "https"
    host, port = parts.hostname or "", parts.port or (443 if https else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close",
             "Accept-Encoding: identity"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    # an ASCII host as bytes: getaddrinfo would encode a str with the idna codec, importing it
    address = host.encode("ascii") if host.isascii() else host
    sock = socket.create_connection((address, port), timeout=timeout)
    try:
        if https:
            import ssl

            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        sock.sendall(head + (body or b""))
        with sock.makefile("rb") as stream:
            return _answer(stream, method, max_body)
    finally:
        sock.close()


def _answer(stream: object, method: str, max_body: int) -> tuple[int, bytes]:
    readline = stream.readline  # type: ignore[attr-defined]
    read = stream.read  # type: ignore[attr-defined]
    status_line = readline(MAX_LINE + 1)
    fields = status_line.split(None, 2)
    if len(fields) < 2 or not fields[0].startswith(b"HTTP/1.") or not fields[1].isdigit():
        raise HttpError(f"not an HTTP answer: {status_line[:80]!r}")
    status = int(fields[1])
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise HttpError("a header line of the answer is too long")
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    else:
        raise HttpError("the answer has too many header lines")
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return status, b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size_line = readline(MAX_LINE + 1).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise HttpError("a malformed chunk in the answer") from None
            if size == 0:
                break
            if len(out) + size > max_body:
                out += read(max_body + 1 - len(out))
                return status, bytes(out)
            out += read(size)
            readline(MAX_LINE + 1)  # the chunk's CRLF
        return status, bytes(out)
    length = headers.get("content-length")
    if length is not None and length.isdigit():
        return status, bytes(read(min(int(length), max_body + 1)))
    return status, bytes(read(max_body + 1))


def _proxied(parts: Url) -> bool:
    proxy = os.environ.get(f"{parts.scheme}_proxy") or os.environ.get(f"{parts.scheme.upper()}_PROXY")
    if not proxy:
        return False
    no_proxy = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    host = (parts.hostname or "").lower()
    for entry in (e.strip().lower().lstrip(".") for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return False
    return True


def _via_urllib(method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float,
                max_body: int) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (http/https only)
            return resp.status, resp.read(max_body + 1)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(max_body + 1)
    except urllib.error.URLError as exc:
        raise HttpError(str(exc.reason)) from None
