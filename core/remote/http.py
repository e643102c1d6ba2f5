"""Talking to an OpenAI-style model server: one place for timeouts, retries, concurrency, limits and errors.

Requests are retried only when the transport failed (no connection, a dropped connection, a
timeout), with exponential backoff; an HTTP error status is the server's answer and is raised at
once. Every batch keeps its place: results are put back by batch, never by arrival.

A server's reply is read as a stranger's: at most `max_reply_bytes` of it, counted both as sent
and as decompressed (the client decompresses gzip and deflate itself, with that bound, and
refuses other encodings); the whole request, not only each read, ends at `timeout`; JSON is
parsed with bounded integers, finite floats and bounded nesting; and any text quoted from the
server has the API key blanked out. Requests run on asyncio, where a deadline cancels a request
wherever it is (a sync call runs on one event-loop thread per server).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import threading
import weakref
import zlib
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import httpx

from ..display import escaped
from ..errors import InvalidArgumentError, RemoteServerError
from ..settings import DEFAULT_MAX_REPLY_BYTES
from ..validation import check_base_url, check_positive_int, check_timeout

BACKOFF_SECONDS = 0.25  # first wait; doubled on each retry
MAX_INTEGER_DIGITS = 18  # any index or count a server sends fits in int64
WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
T = TypeVar("T")


class Server:
    """One model server: its address, credentials and the rules every request follows.

    Args:
        base_url: the server's address, e.g. "http://localhost:8000" (a trailing /v1 is accepted).
        api_key: sent as a bearer token; None sends none. Never shown in a message.
        timeout: seconds for one request, from connecting to the last byte of the reply; a request
            still running then is cancelled (and retried, as a transport failure is).
        retries: how many times a request whose transport failed is sent again.
        concurrency: requests in flight at once, per call.
        max_reply_bytes: the most bytes read from one reply, compressed or decompressed.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        concurrency: int = 4,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ):
        self.base_url = check_base_url(base_url)
        if api_key is not None and (not isinstance(api_key, str) or not api_key.isprintable()):
            raise InvalidArgumentError("api_key must be a printable string or None")
        self.timeout = check_timeout(timeout)
        self.retries = check_positive_int(retries, "retries", minimum=0)
        self.concurrency = check_positive_int(concurrency, "concurrency")
        self.max_reply_bytes = check_positive_int(max_reply_bytes, "max_reply_bytes", minimum=1024)
        # Only encodings decoded here with a bound; a server that sends another is refused.
        self._headers = {
            "Accept-Encoding": "gzip, deflate",
            **({"Authorization": f"Bearer {api_key}"} if api_key else {}),
        }
        self._secret = api_key
        self._client: tuple[int, httpx.AsyncClient] | None = None  # (pid, client on the shared loop)
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Server({self.base_url!r})"  # never the api_key

    # ----- sync calls: run on this server's event-loop thread -----

    def get(self, path: str) -> Any:
        return self._run(lambda client: self._request(client, "GET", path, None))

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        return self._run(lambda client: self._request(client, "POST", path, payload))

    def post_all(
        self, path: str, payloads: Sequence[dict[str, Any]], on_done: Callable[[int], None] | None = None
    ) -> list[Any]:
        """Answers to `payloads`, in their order, at most `concurrency` in flight; `on_done(i)` as each arrives."""
        return self._run(lambda client: self._send_all(client, path, payloads, on_done))

    # ----- async calls: on the caller's event loop -----

    async def apost_all(self, path: str, payloads: Sequence[dict[str, Any]]) -> list[Any]:
        """`post_all` on the event loop: an async client, a semaphore for the bound."""
        async with self.async_client() as client:
            return await self._send_all(client, path, payloads, None)

    def async_client(self) -> httpx.AsyncClient:
        # One per call: an AsyncClient belongs to the event loop it was first used on.
        return httpx.AsyncClient(
            headers=self._headers, timeout=self.timeout, limits=httpx.Limits(max_connections=self.concurrency)
        )

    def close(self) -> None:
        """Close the client of this server's sync calls (also done when the server is garbage-collected)."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None and client[0] == os.getpid():
            _close_on_loop(client[1])

    # ----- details -----

    def _run(self, call: Callable[[httpx.AsyncClient], Coroutine[Any, Any, T]]) -> T:
        """`call(client)` on the process's HTTP event loop; a caller interrupted (Ctrl-C) cancels it."""
        with self._client_lock:
            if self._client is None or self._client[0] != os.getpid():  # a forked child (Ray) starts anew
                self._client = (os.getpid(), self.async_client())
                weakref.finalize(self, _close_on_loop, self._client[1])
            client = self._client[1]
        future = asyncio.run_coroutine_threadsafe(call(client), _event_loop())
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    async def _send_all(
        self,
        client: httpx.AsyncClient,
        path: str,
        payloads: Sequence[dict[str, Any]],
        on_done: Callable[[int], None] | None,
    ) -> list[Any]:
        limit = asyncio.Semaphore(self.concurrency)

        async def send(index: int) -> Any:
            async with limit:
                answer = await self._request(client, "POST", path, payloads[index])
            if on_done is not None:
                on_done(index)
            return answer

        tasks = [asyncio.ensure_future(send(index)) for index in range(len(payloads))]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:  # the first failure is raised as itself; the other requests are cancelled
            for task in tasks:
                task.cancel()
            raise

    async def _request(self, client: httpx.AsyncClient, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        for attempt in range(self.retries + 1):
            try:
                async with asyncio.timeout(self.timeout):
                    status, body = await self._exchange(client, method, path, payload)
            except (httpx.TransportError, TimeoutError) as error:
                if attempt == self.retries:
                    raise self._unreachable(method, path, error) from None
                await asyncio.sleep(BACKOFF_SECONDS * 2**attempt)
                continue
            return self._answer(status, body, method, path)
        raise AssertionError("unreachable")

    async def _exchange(
        self, client: httpx.AsyncClient, method: str, path: str, payload: dict[str, Any] | None
    ) -> tuple[int, bytes]:
        async with client.stream(method, self.base_url + path, json=payload) as response:
            return response.status_code, await self._read_body(response, method, path)

    async def _read_body(self, response: httpx.Response, method: str, path: str) -> bytes:
        """The reply's bytes, decompressed here with a bound, or a RemoteServerError past `max_reply_bytes`."""
        limit, where = self.max_reply_bytes, f"{self.base_url} answered {method} {path} with"
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "", *WBITS):
            raise RemoteServerError(
                f"{where} a body in the encoding {escaped(encoding[:40])!r}, which qwen3-rag does "
                "not read (it asks for gzip or deflate)"
            )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise RemoteServerError(f"{where} {declared} bytes, more than max_reply_bytes={limit}")
        decoder = zlib.decompressobj(WBITS[encoding]) if encoding in WBITS else None
        body, received = bytearray(), 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            try:
                body += _inflate(decoder, chunk, limit + 1 - len(body)) if decoder else chunk
            except zlib.error:
                if encoding != "deflate" or received != len(chunk):
                    raise RemoteServerError(f"{where} a body that is not valid {encoding}") from None
                decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate without the zlib header, as some send
                try:
                    body += _inflate(decoder, chunk, limit + 1 - len(body))
                except zlib.error:
                    raise RemoteServerError(f"{where} a body that is not valid deflate") from None
            if received > limit or len(body) > limit:
                raise RemoteServerError(
                    f"{where} more than max_reply_bytes={limit} bytes"
                    f"{' once decompressed' if received <= limit else ''}; nothing more was read"
                )
        return bytes(body)

    def _answer(self, status: int, body: bytes, method: str, path: str) -> Any:
        if status >= 400:
            raise RemoteServerError(
                f"{self.base_url} refused {method} {path} with HTTP {status}: {_server_message(body, self._redacted)}",
                status=status,
            )
        try:
            return parse_json(body)
        except ValueError as error:
            start = escaped(self._redacted(body[:2000].decode("utf-8", "replace"))[:200])  # redacted, then cut
            raise RemoteServerError(
                f"{self.base_url} answered {method} {path} with something that is not JSON "
                f"qwen3-rag reads ({error}): {start}"
            ) from None

    def _unreachable(self, method: str, path: str, error: Exception) -> RemoteServerError:
        tries = self.retries + 1
        what = (
            f"{type(error).__name__}: {escaped(str(error)) or '-'}"
            if not isinstance(error, TimeoutError)
            else "the reply was not complete in time"
        )
        return RemoteServerError(
            f"could not {method} {self.base_url}{path} ({tries} {'try' if tries == 1 else 'tries'}"
            f", timeout {self.timeout:g} s): {self._redacted(what)}"
        )

    def _redacted(self, text: str) -> str:
        """`text` without the API key (a server may echo the Authorization header back)."""
        if not self._secret:
            return text
        for form in {self._secret, escaped(self._secret)}:
            text = text.replace(form, "[api key]")
        return text


_loop_lock = threading.Lock()
_loop: tuple[int, asyncio.AbstractEventLoop] | None = None


def _event_loop() -> asyncio.AbstractEventLoop:
    """One event loop on one daemon thread per process, shared by every server's sync calls."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="qwen3-rag-http", daemon=True).start()
            _loop = (os.getpid(), loop)
        return _loop[1]


def _close_on_loop(client: httpx.AsyncClient) -> None:
    """Close `client` on the loop its connections belong to, without waiting for it."""
    if _loop is not None and _loop[0] == os.getpid() and not _loop[1].is_closed():
        asyncio.run_coroutine_threadsafe(client.aclose(), _loop[1])


def _inflate(decoder: Any, chunk: bytes, most: int) -> bytes:
    """At most `most` bytes of `chunk` decompressed (the rest stays in the decoder, never inflated)."""
    return decoder.decompress(chunk, max(most, 1))


def parse_json(body: bytes) -> Any:
    """JSON with the limits a stranger's reply needs: integers of at most 18 digits, finite floats,
    no NaN/Infinity constants, and nesting within Python's recursion limit (else ValueError)."""
    try:
        return json.loads(body, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"a number out of range ({escaped(text[:20])})")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name}, which is not a number JSON allows")


def _server_message(raw: bytes, redacted: Callable[[str], str]) -> str:
    """The server's own explanation (OpenAI-style `error.message`, or FastAPI's `detail`), without secrets
    (blanked before anything is cut, so no part of one is left), escaped and short."""
    body: Any
    try:
        body = parse_json(raw)
    except ValueError:
        body = raw.decode("utf-8", "replace")
    if isinstance(body, dict):
        error = body.get("error")
        body = (
            error.get("message", error)
            if isinstance(error, dict)
            else error or body.get("message") or body.get("detail") or body
        )
    text = escaped(redacted(str(body)))
    return text if len(text) <= 500 else text[:500] + "..."


def ordered_rows(answer: Any, count: int, where: str) -> list[dict[str, Any]]:
    """OpenAI-style `data` rows in input order, each index 0..count-1 exactly once, or a RemoteServerError."""
    rows = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise RemoteServerError(f"{where} answered without a 'data' list")
    indexes = [row.get("index") for row in rows]
    if not all(type(i) is int for i in indexes) or sorted(indexes) != list(range(count)):
        raise RemoteServerError(
            f"{where} answered {len(rows)} rows with indexes that are not 0..{count - 1} once "
            "each; nothing is returned rather than a dropped or misplaced result"
        )
    return sorted(rows, key=lambda row: row["index"])
