"""A hostile model server on 127.0.0.1: the client bounds what it reads, how long it waits, what it
parses and what it quotes, and refuses vectors it cannot normalise. No vLLM needed: the server is
the attacker here, written for each case."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time

import numpy as np
import pytest
from hostile_server import Hostile

from qwen3_rag import RemoteEmbedder, RemoteServerError
from qwen3_rag.remote.http import Server, parse_json

HIDDEN = 64  # the tiny embedding model's hidden size


@pytest.fixture
def hostile(tiny_models):
    server = Hostile(tiny_models.embedding)
    yield server
    server.close()


def peak_rss_growth(call) -> int:
    """Bytes the process's peak resident memory grew by during `call()` (Linux: VmHWM, reset first)."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets the peak to the current size

    def peak() -> int:
        with open(f"/proc/{os.getpid()}/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    before = peak()
    call()
    return peak() - before


def raises_server_error(call, match: str):
    def run():
        with pytest.raises(RemoteServerError, match=match):
            call()

    return run


def vectors_reply(values):
    rows = ", ".join(f'{{"index": {i}, "embedding": [{", ".join([v] * HIDDEN)}]}}' for i, v in enumerate(values))
    body = f'{{"data": [{rows}]}}'.encode()
    return lambda handler: handler.send(200, body)


def embedder(hostile, **settings) -> RemoteEmbedder:
    hostile.reply = vectors_reply(["0.5"])
    return RemoteEmbedder(hostile.url, retries=0, **settings)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "row 0 of the batch: all zero"),
        ("1e400", "number out of range"),
        ("NaN", "NaN, which is not a number JSON allows"),
    ],
)
def test_vectors_that_cannot_be_normalised_are_refused(hostile, value, message):
    client = embedder(hostile)
    hostile.reply = vectors_reply([value])
    with pytest.raises(RemoteServerError, match=message):
        client.embed_documents(["a"])


@pytest.mark.parametrize("value", ["1e30", "1e-30", "-3e37"])
def test_huge_and_tiny_vectors_still_give_the_unit_vector(hostile, value):
    client = embedder(hostile)
    hostile.reply = vectors_reply([value])
    vector = client.embed_documents(["a"])[0]
    np.testing.assert_allclose(vector, np.full(HIDDEN, np.sign(float(value)) / np.sqrt(HIDDEN)), rtol=1e-6)


def test_a_huge_integer_and_deep_nesting_are_parse_errors_not_crashes(hostile):
    client = embedder(hostile)
    huge = b'{"data": [{"index": 0, "embedding": [1' + b"0" * 400 + b"]}]}"
    hostile.reply = lambda handler: handler.send(200, huge)
    with pytest.raises(RemoteServerError, match="an integer of 401 digits"):
        client.embed_documents(["a"])
    hostile.reply = lambda handler: handler.send(200, b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(RemoteServerError, match="nested too deeply"):
        client.embed_documents(["b"])
    with pytest.raises(ValueError, match="Infinity"):
        parse_json(b"[Infinity]")


def test_a_body_past_the_limit_is_not_read(hostile):
    client = embedder(hostile, max_reply_bytes=2**20)
    body = b" " * (200 * 2**20)
    hostile.reply = lambda handler: handler.send(200, body)
    growth = peak_rss_growth(
        raises_server_error(
            lambda: client.embed_documents(["a"]), r"209715200 bytes, more than max_reply_bytes=1048576"
        )
    )
    assert growth < 64 * 2**20

    def undeclared(handler):  # no Content-Length: the limit holds while reading
        handler.send_response(200)
        handler.send_header("Connection", "close")
        handler.end_headers()
        for _ in range(200):
            handler.wfile.write(body[: 2**20])

    hostile.reply = undeclared
    growth = peak_rss_growth(
        raises_server_error(
            lambda: client.embed_documents(["b"]), r"more than max_reply_bytes=1048576 bytes; nothing more was read"
        )
    )
    assert growth < 64 * 2**20


def test_a_compression_bomb_stops_at_the_limit(hostile):
    bomb = gzip.compress(b" " * (200 * 2**20), compresslevel=9)
    assert len(bomb) < 2**20  # small on the wire
    client = embedder(hostile, max_reply_bytes=2**20)
    hostile.reply = lambda handler: handler.send(200, bomb, [("Content-Encoding", "gzip")])
    growth = peak_rss_growth(
        raises_server_error(
            lambda: client.embed_documents(["a"]), "more than max_reply_bytes=1048576 bytes once decompressed"
        )
    )
    assert growth < 64 * 2**20  # the 200 MB it inflates to are never held
    hostile.reply = lambda handler: handler.send(200, b"x", [("Content-Encoding", "zstd")])
    with pytest.raises(RemoteServerError, match="encoding 'zstd', which qwen3-rag does not read"):
        client.embed_documents(["b"])


def test_a_compressed_reply_within_the_limit_is_read(hostile):
    client = embedder(hostile)
    body = json.dumps({"data": [{"index": 0, "embedding": [2] * HIDDEN}]}).encode()
    hostile.reply = lambda handler: handler.send(200, gzip.compress(body), [("Content-Encoding", "gzip")])
    np.testing.assert_allclose(client.embed_documents(["a"])[0], 1 / np.sqrt(HIDDEN), rtol=1e-6)


def drip_body(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    yield from (b" " for _ in range(100))


def drip_header(handler):
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    yield from (b"X-Slow: y\r\n" for _ in range(100))


@pytest.mark.parametrize("drip", [drip_body, drip_header])
def test_a_dripping_server_is_cut_off_at_the_deadline(hostile, drip):
    client = embedder(hostile, timeout=1.0)

    def reply(handler):
        for piece in drip(handler):  # a piece every 0.1 s: each read is quick, the whole is not
            handler.wfile.write(piece)
            handler.wfile.flush()
            time.sleep(0.1)

    hostile.reply = reply
    started = time.monotonic()
    with pytest.raises(RemoteServerError, match="timeout 1 s.*not complete in time"):
        client.embed_documents(["a"])
    assert time.monotonic() - started < 3


def test_an_echoed_api_key_never_reaches_a_message(hostile):
    secret = "sk-very-secret-123"
    hostile.reply = vectors_reply(["0.5"])
    client = RemoteEmbedder(hostile.url, retries=0, api_key=secret)

    def echo(handler):
        message = f"bad key: {handler.headers['Authorization']}"
        handler.send(401, json.dumps({"error": {"message": message}}).encode())

    hostile.reply = echo
    with pytest.raises(RemoteServerError) as caught:
        client.embed_documents(["a"])
    assert secret not in str(caught.value) and "bad key: Bearer [api key]" in str(caught.value)
    hostile.reply = lambda handler: handler.send(200, f"not json {secret}".encode())
    with pytest.raises(RemoteServerError) as caught:
        client.embed_documents(["b"])
    assert secret not in str(caught.value) and "[api key]" in str(caught.value)


async def test_the_async_path_has_the_same_limits(hostile):
    client = embedder(hostile, max_reply_bytes=2**20)
    hostile.reply = lambda handler: handler.send(200, b" " * (4 * 2**20))
    with pytest.raises(RemoteServerError, match="more than max_reply_bytes"):
        await client.aembed_documents(["a"])


def test_limits_are_validated():
    with pytest.raises(Exception, match="max_reply_bytes"):
        Server("http://127.0.0.1:9", max_reply_bytes=10)


def test_a_broken_or_raw_deflate_body(hostile):
    import zlib

    client = embedder(hostile)
    body = json.dumps({"data": [{"index": 0, "embedding": [3] * HIDDEN}]}).encode()
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = raw.compress(body) + raw.flush()
    hostile.reply = lambda handler: handler.send(200, raw_deflate, [("Content-Encoding", "deflate")])
    np.testing.assert_allclose(client.embed_documents(["a"])[0], 1 / np.sqrt(HIDDEN), rtol=1e-6)  # as httpx reads it
    hostile.reply = lambda handler: handler.send(200, b"\x1f\x8b not gzip at all", [("Content-Encoding", "gzip")])
    with pytest.raises(RemoteServerError, match="a body that is not valid gzip"):
        client.embed_documents(["b"])


def test_servers_share_one_event_loop_thread():
    import gc

    servers = [Server("http://127.0.0.1:9", retries=0, timeout=1) for _ in range(5)]
    for server in servers:
        with pytest.raises(RemoteServerError):
            server.get("/v1/models")
    del servers
    gc.collect()
    assert sum(t.name == "qwen3-rag-http" for t in threading.enumerate()) == 1
