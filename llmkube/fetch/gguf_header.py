"""A bounds check of a GGUF header before anything trusts its counts.

Every count in a GGUF header (key-values, tensors, string lengths, array lengths, dimensions) is a 64-bit number
the file's author chose. `gguf.GGUFReader` believes them: an array header claiming 2^40 one-byte items sends it
into a loop that never ends on a file of a few bytes, and a string longer than the file is silently cut short.
So the header is walked once here, in the file's order, and every count is checked against the bytes that are
actually left before it is used: a hostile or truncated header fails at once, with the offset and the field
that is wrong, and every loop is bounded by the file's size (each step consumes at least one byte).

Layout (GGUF v2 and v3, the versions the reader supports; little-endian, or big-endian when the version says
so): magic, u32 version, u64 tensor count, u64 key-value count; then per key-value a string key, a u32 value
type and the value; then per tensor a string name, u32 dimension count, u64 per dimension, u32 type, u64
offset. A string is a u64 length and that many bytes; an array is a u32 item type, a u64 count and the items.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

from llmkube.fetch.errors import InvalidGGUF

SUPPORTED_VERSIONS = (2, 3)
#: ggml's GGML_MAX_DIMS: llama.cpp refuses tensors with more dimensions.
MAX_DIMENSIONS = 4
#: Arrays of arrays are legal but unused; deeper nesting than this is only ever an attack on the parser.
MAX_ARRAY_DEPTH = 4

_STRING, _ARRAY = 8, 9
#: Byte sizes of the fixed-size value types, by GGUF type id.
_FIXED_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
#: The least a key-value can take: an empty key (8), its type (4) and a one-byte value.
_MIN_KV_BYTES = 13
#: The least a tensor description can take: an empty name (8), no dimensions (4), type (4) and offset (8).
_MIN_TENSOR_BYTES = 24


class _Walker:
    """Reads the header front to back; every read is checked against the end of the buffer."""

    def __init__(self, buffer: bytes | mmap.mmap, *, endian: str) -> None:
        self._buffer = buffer
        self._size = len(buffer)
        self._endian = endian
        self.offset = 0

    def remaining(self) -> int:
        return self._size - self.offset

    def _take(self, count: int, what: str) -> int:
        if count < 0 or count > self.remaining():
            raise InvalidGGUF(
                f"{what} at byte {self.offset} needs {count} bytes but only {self.remaining()} remain: "
                "the file is truncated or its header is corrupt"
            )
        start = self.offset
        self.offset += count
        return start

    def unsigned(self, size: int, what: str) -> int:
        start = self._take(size, what)
        code = {4: "I", 8: "Q"}[size]
        value: int = struct.unpack_from(self._endian + code, self._buffer, start)[0]
        return value

    def string(self, what: str) -> None:
        length = self.unsigned(8, f"length of {what}")
        self._take(length, f"{what} ({length} bytes)")

    def value(self, value_type: int, what: str, *, depth: int = 0) -> None:
        if value_type in _FIXED_SIZES:
            self._take(_FIXED_SIZES[value_type], what)
        elif value_type == _STRING:
            self.string(what)
        elif value_type == _ARRAY:
            self.array(what, depth=depth + 1)
        else:
            raise InvalidGGUF(f"{what} at byte {self.offset} has unknown value type {value_type}")

    def array(self, what: str, *, depth: int) -> None:
        if depth > MAX_ARRAY_DEPTH:
            raise InvalidGGUF(f"{what} nests arrays more than {MAX_ARRAY_DEPTH} deep")
        item_type = self.unsigned(4, f"item type of {what}")
        count = self.unsigned(8, f"length of {what}")
        least = _FIXED_SIZES.get(item_type, 8 if item_type == _STRING else 12)
        if count > self.remaining() // least:
            raise InvalidGGUF(
                f"{what} claims {count} items at byte {self.offset}, more than the {self.remaining()} bytes "
                "left can hold: the header is corrupt"
            )
        if item_type in _FIXED_SIZES:
            self._take(count * least, what)
            return
        if item_type == _STRING:
            self._strings(count, what)
            return
        for _ in range(count):
            self.value(item_type, f"an item of {what}", depth=depth)

    def _strings(self, count: int, what: str) -> None:
        """`count` strings, the bulk of a header (a tokenizer's vocabulary and merges): one tight loop."""
        unpack, buffer, size, offset = (
            struct.Struct(self._endian + "Q").unpack_from,
            self._buffer,
            self._size,
            self.offset,
        )
        for index in range(count):
            if size - offset < 8:
                self.offset = offset
                self._take(8, f"length of item {index} of {what}")
            length = unpack(buffer, offset)[0]
            offset += 8
            if length > size - offset:
                self.offset = offset
                self._take(length, f"item {index} of {what} ({length} bytes)")
            offset += length
        self.offset = offset


def _endian(buffer: bytes | mmap.mmap) -> str:
    if len(buffer) < 8:
        raise InvalidGGUF(f"the file has {len(buffer)} bytes, fewer than a GGUF header needs")
    for endian in ("<", ">"):
        if struct.unpack_from(endian + "I", buffer, 4)[0] in SUPPORTED_VERSIONS:
            return endian
    version = struct.unpack_from("<I", buffer, 4)[0]
    raise InvalidGGUF(
        f"GGUF version {version} is not supported (only {', '.join(map(str, SUPPORTED_VERSIONS))})"
    )


def check_header(buffer: bytes | mmap.mmap) -> int:
    """The header's length in bytes; raises InvalidGGUF, naming the field and offset, unless every count in the
    header fits the buffer."""
    if buffer[:4] != b"GGUF":
        raise InvalidGGUF(f"the file starts with {bytes(buffer[:4])!r}, not b'GGUF'")
    walker = _Walker(buffer, endian=_endian(buffer))
    walker.offset = 8
    tensors = walker.unsigned(8, "tensor count")
    pairs = walker.unsigned(8, "key-value count")
    for count, least, what in ((pairs, _MIN_KV_BYTES, "key-values"), (tensors, _MIN_TENSOR_BYTES, "tensors")):
        if count > walker.remaining() // least:
            raise InvalidGGUF(
                f"the header claims {count} {what}, more than a file of {len(buffer)} bytes can hold"
            )
    for index in range(pairs):
        walker.string(f"key {index}")
        value_type = walker.unsigned(4, f"type of key-value {index}")
        walker.value(value_type, f"value of key-value {index}")
    for index in range(tensors):
        walker.string(f"name of tensor {index}")
        dimensions = walker.unsigned(4, f"dimension count of tensor {index}")
        if dimensions > MAX_DIMENSIONS:
            raise InvalidGGUF(f"tensor {index} claims {dimensions} dimensions, more than {MAX_DIMENSIONS}")
        for _ in range(dimensions):
            walker.unsigned(8, f"a dimension of tensor {index}")
        walker.unsigned(4, f"type of tensor {index}")
        walker.unsigned(8, f"data offset of tensor {index}")
    return walker.offset


def check_header_of(path: Path) -> int:
    """`check_header` over the file at `path`, through a memory map (only the header's pages are read)."""
    with path.open("rb") as stream:
        if path.stat().st_size == 0:
            raise InvalidGGUF("the file is empty")
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return check_header(mapped)
