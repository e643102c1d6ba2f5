"""A plain protobuf writer, to build the LanceDB manifests an attacker would (table.proto field numbers)."""

from __future__ import annotations

import struct


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def manifest_file(*manifest_fields: bytes, prefix: bytes = b"") -> bytes:
    body = b"".join(manifest_fields)
    position = len(prefix)
    return prefix + struct.pack("<I", len(body)) + body + struct.pack("<qHH", position, 0, 3) + b"LANC"


def fragment(*parts: bytes) -> bytes:
    return field(2, field(1, 0) + b"".join(parts))


def data_file(path: str, *extra: bytes) -> bytes:
    return field(2, field(1, path.encode()) + b"".join(extra))
