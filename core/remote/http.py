"""Talking to an OpenAI-style model server: one place for timeouts, retries, concurrency and errors.

Requests are retried only when the transport failed (no connection, a dropped connection, a
timeout), with exponential backoff; an HTTP error status is the server's answer and is raised at
once. Every batch keeps its place: results are put back by batch, never by arrival.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..display import escaped
from ..errors import InvalidArgumentError, RemoteServerError
from ..validation import check_positive_int

BACKOFF_SECONDS = 0.25  # first wait; doubled on each retry


def check_base_url(base_url: object) -> str:
    """An http(s) URL without query or fragment; a trailing '/v1' is dropped (paths add it)."""
    if not isinstance(base_url, str):
        raise InvalidArgumentError(f"base_url must be a string like 'http://localhost:8000', got "
                                   f"{type(base_url).__name__}")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidArgumentError(f"base_url={escaped(base_url)!r} must be an http:// or https:// server address "
                                   "like 'http://localhost:8000' (no query or fragment)")
    path = parts.path.rstrip("/")
    path = path[: -len("/v1")] if path.endswith("/v1") else path
    return f"{parts.scheme}://{parts.netloc}{path}"


def check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 86400:
        raise InvalidArgumentError(f"timeout={timeout!r} must be a number of seconds in (0, 86400]")
    return float(timeout)


class Server:
    """One model server: its address, credentials and the rules every request follows.

    Args:
        base_url: the server's address, e.g. "http://localhost:8000" (a trailing /v1 is accepted).
        api_key: sent as a bearer token; None sends none.
        timeout: seconds for connecting and for each read.
        retries: how many times a request whose transport failed is sent again.
        concurrency: requests in flight at once, per call.
    """

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 120.0, retries: int = 3,
                 concurrency: int = 4):
        self.base_url = check_base_url(base_url)
        if api_key is not None and (not isinstance(api_key, str) or not api_key.isprintable()):
            raise InvalidArgumentError("api_key must be a printable string or None")
        self.timeout = check_timeout(timeout)
        self.retries = check_positive_int(retries, "retries", minimum=0)
        self.concurrency = check_positive_int(concurrency, "concurrency")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"Server({self.base_url!r})"  # never the api_key

    # ----- one request -----

    def get(self, path: str) -> Any:
        return self._retrying(lambda: self._sync_client().get(self.base_url + path), "GET", path)

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        return self._retrying(lambda: self._sync_client().post(self.base_url + path, json=payload), "POST", path)

    async def apost(self, client: httpx.AsyncClient, path: str, payload: dict[str, Any]) -> Any:
        for attempt in range(self.retries + 1):
            try:
                response = await client.post(self.base_url + path, json=payload)
            except httpx.TransportError as error:
                if attempt == self.retries:
                    raise self._unreachable("POST", path, error) from None
                await asyncio.sleep(BACKOFF_SECONDS * 2**attempt)
                continue
            return self._answer(response, "POST", path)
        raise AssertionError("unreachable")

    # ----- many requests, bounded -----

    def post_all(self, path: str, payloads: Sequence[dict[str, Any]],
                 on_done: Callable[[int], None] | None = None) -> list[Any]:
        """Answers to `payloads`, in their order, at most `concurrency` in flight; `on_done(i)` as each arrives."""
        def send(index: int) -> Any:
            answer = self.post(path, payloads[index])
            if on_done is not None:
                on_done(index)
            return answer

        if len(payloads) <= 1 or self.concurrency == 1:
            return [send(index) for index in range(len(payloads))]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(payloads)),
                                thread_name_prefix="qwen3-rag-http") as pool:
            return list(pool.map(send, range(len(payloads))))  # map keeps input order; the first error is raised

    async def apost_all(self, path: str, payloads: Sequence[dict[str, Any]]) -> list[Any]:
        """`post_all` on the event loop: an async client, a semaphore for the bound."""
        limit = asyncio.Semaphore(self.concurrency)
        async with self.async_client() as client:
            async def send(payload: dict[str, Any]) -> Any:
                async with limit:
                    return await self.apost(client, path, payload)

            return list(await asyncio.gather(*(send(payload) for payload in payloads)))

    def async_client(self) -> httpx.AsyncClient:
        # One per call: an AsyncClient belongs to the event loop it was first used on.
        return httpx.AsyncClient(headers=self._headers, timeout=self.timeout,
                                 limits=httpx.Limits(max_connections=self.concurrency))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # ----- details -----

    def _sync_client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(headers=self._headers, timeout=self.timeout,
                                        limits=httpx.Limits(max_connections=max(self.concurrency, 4)))
        return self._client

    def _retrying(self, send: Callable[[], httpx.Response], method: str, path: str) -> Any:
        for attempt in range(self.retries + 1):
            try:
                response = send()
            except httpx.TransportError as error:
                if attempt == self.retries:
                    raise self._unreachable(method, path, error) from None
                time.sleep(BACKOFF_SECONDS * 2**attempt)
                continue
            return self._answer(response, method, path)
        raise AssertionError("unreachable")

    def _answer(self, response: httpx.Response, method: str, path: str) -> Any:
        if response.status_code >= 400:
            raise RemoteServerError(f"{self.base_url} refused {method} {path} with HTTP {response.status_code}: "
                                    f"{_server_message(response)}", status=response.status_code)
        try:
            return response.json()
        except ValueError:
            raise RemoteServerError(f"{self.base_url} answered {method} {path} with something that is not JSON: "
                                    f"{escaped(response.text[:200])}") from None

    def _unreachable(self, method: str, path: str, error: httpx.TransportError) -> RemoteServerError:
        tries = self.retries + 1
        return RemoteServerError(f"could not {method} {self.base_url}{path} ({tries} {'try' if tries == 1 else 'tries'}"
                                 f", timeout {self.timeout:g} s): {type(error).__name__}: {escaped(str(error)) or '-'}")


def _server_message(response: httpx.Response) -> str:
    """The server's own explanation (OpenAI-style `error.message`, or FastAPI's `detail`), escaped and short."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        error = body.get("error")
        body = error.get("message", error) if isinstance(error, dict) else error or body.get("message") or \
            body.get("detail") or body
    text = escaped(str(body))
    return text if len(text) <= 500 else text[:500] + "..."


def ordered_rows(answer: Any, count: int, where: str) -> list[dict[str, Any]]:
    """OpenAI-style `data` rows in input order, each index 0..count-1 exactly once, or a RemoteServerError."""
    rows = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise RemoteServerError(f"{where} answered without a 'data' list")
    indexes = [row.get("index") for row in rows]
    if not all(type(i) is int for i in indexes) or sorted(indexes) != list(range(count)):
        raise RemoteServerError(f"{where} answered {len(rows)} rows with indexes that are not 0..{count - 1} once "
                                "each; nothing is returned rather than a dropped or misplaced result")
    return sorted(rows, key=lambda row: row["index"])

