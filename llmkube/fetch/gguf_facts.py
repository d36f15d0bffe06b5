"""Facts about a GGUF file, read from its header through a memory map (tensor data is never loaded).

Keys vary by architecture (`llama.context_length`, `qwen2.context_length`, ...) and by converter version, so every
fact is optional and a missing key is not an error; only a file the reader cannot parse is invalid. The header's
counts are checked against the file first (`gguf_header`), since the reader trusts them.

The tensor table (names, shapes and types, all in the header) gives the exact bytes of the weights, which is what
llama-server allocates for them; the memory plan prefers it to parameters x bits per weight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gguf
import numpy as np

from api.v1alpha1.gguf import GGUFInfo
from llmkube.fetch.errors import InvalidGGUF
from llmkube.fetch.gguf_header import check_header_of
from llmkube.fetch.sliding_window import sliding_window

GGUF_MAGIC = b"GGUF"


def check_gguf_magic(head: bytes) -> None:
    """Fail fast on the first bytes, so an HTML error page or a safetensors file is not downloaded in full."""
    if head[: len(GGUF_MAGIC)] != GGUF_MAGIC:
        raise InvalidGGUF(
            f"source is not a GGUF file (it starts with {head[:4]!r}, not b'GGUF'): "
            "point the source at a .gguf file (convert other formats with llama.cpp's convert_hf_to_gguf.py)"
        )


def read_gguf_facts(path: Path, *, source: str) -> GGUFInfo:
    try:
        check_header_of(path)  # before the reader believes any count in it
    except InvalidGGUF as exc:
        raise InvalidGGUF(
            f"{source} is not a valid GGUF file: {exc}; check that the source is a complete .gguf file"
        ) from exc
    try:
        reader = _HeaderReader(path, "r")
    except Exception as exc:  # the reader raises ValueError, struct errors, IndexError... on malformed input
        raise InvalidGGUF(
            f"{source} is not a valid GGUF file ({type(exc).__name__}: {exc}): "
            "check that the source is a complete .gguf file"
        ) from exc
    fields = _Fields(reader)
    arch = fields.text("general.architecture")
    file_type = fields.integer("general.file_type")
    block_count = fields.integer(f"{arch}.block_count")
    window = sliding_window(
        architecture=arch,
        block_count=block_count,
        window_in_file=fields.integer(f"{arch}.attention.sliding_window"),
        pattern_in_file=fields.pattern(f"{arch}.attention.sliding_window_pattern"),
    )
    declared_parameters = fields.integer("general.parameter_count")
    tensor_bytes = _whole_model_tensor_bytes(reader, fields, declared_parameters)
    return GGUFInfo(
        architecture=arch,
        name=fields.text("general.name"),
        parameter_count=declared_parameters or _count_parameters(reader),
        context_length=fields.integer(f"{arch}.context_length"),
        block_count=block_count,
        embedding_length=fields.integer(f"{arch}.embedding_length"),
        head_count=fields.integer(f"{arch}.attention.head_count"),
        head_count_kv=fields.integer(f"{arch}.attention.head_count_kv"),
        file_type=_file_type_name(file_type),
        quantization=quantization_name(file_type),
        key_length=fields.integer(f"{arch}.attention.key_length"),
        value_length=fields.integer(f"{arch}.attention.value_length"),
        feed_forward_length=fields.integer(f"{arch}.feed_forward_length"),
        expert_feed_forward_length=fields.integer(f"{arch}.expert_feed_forward_length"),
        vocab_size=fields.integer(f"{arch}.vocab_size") or fields.length("tokenizer.ggml.tokens"),
        expert_count=fields.integer(f"{arch}.expert_count"),
        expert_used_count=fields.integer(f"{arch}.expert_used_count"),
        sliding_window=window.window if window else None,
        sliding_window_layers=window.layers if window else None,
        weight_bytes=sum(tensor_bytes.values()) or None,
        token_embedding_bytes=tensor_bytes.get("token_embd.weight"),
        output_bytes=tensor_bytes.get("output.weight"),
    )


class _HeaderReader(gguf.GGUFReader):
    """`gguf.GGUFReader` over a plain array view of its memory map.

    The reader slices its buffer once per header value, and a tokenizer holds one string per token and merge
    (about 100,000 for a small model, 400,000 for Llama 3). Slicing a `np.memmap` runs its Python-level
    `__array_finalize__` every time, which made the header of SmolLM2-135M take 3.6 s to read; over a plain
    `ndarray` view of the same mapping it takes about 1 s, and nothing more is read from disk.
    """

    @property
    def data(self) -> Any:
        return self._plain

    @data.setter
    def data(self, value: Any) -> None:
        self._plain = np.asarray(value)


def quantization_name(file_type: int | None) -> str | None:
    """The name people search for (Q4_K_M), from the enum llama.cpp records (MOSTLY_Q4_K_M)."""
    name = _file_type_name(file_type)
    if name is None:
        return None
    for prefix in ("MOSTLY_", "ALL_"):
        name = name.removeprefix(prefix)
    return name


def _file_type_name(file_type: int | None) -> str | None:
    if file_type is None:
        return None
    try:
        member = gguf.LlamaFileType(file_type)
    except ValueError:
        return f"UNKNOWN_{file_type}"
    return None if member is gguf.LlamaFileType.GUESSED else member.name


def _whole_model_tensor_bytes(
    reader: Any, fields: _Fields, declared_parameters: int | None
) -> dict[str, int]:
    """Bytes per tensor name, or nothing when this file's tensor table does not hold the whole model.

    One shard of a split GGUF (`split.count` > 1) holds only part of the tensors, and a header can declare far more
    parameters than its tensors carry (test files shaped like a 70B model over kilobytes of data): planning from
    such a table would under-count the weights, so the plan falls back to parameters x bits per weight.
    """
    if (fields.integer("split.count") or 1) > 1:
        return {}
    elements = sum(int(tensor.n_elements) for tensor in reader.tensors)
    if declared_parameters and elements < declared_parameters // 2:
        return {}
    return {tensor.name: int(tensor.n_bytes) for tensor in reader.tensors}


def _count_parameters(reader: Any) -> int | None:
    total = sum(int(tensor.n_elements) for tensor in reader.tensors)
    return total or None


class _Fields:
    """Typed access to header fields; values of the wrong type read as missing rather than crash."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def _value(self, key: str) -> Any:
        field = self._reader.get_field(key)
        return None if field is None else field.contents()

    def length(self, key: str) -> int | None:
        """Number of elements of an array field, without decoding them (a tokenizer holds 100,000s)."""
        field = self._reader.get_field(key)
        if field is None or not field.types or field.types[0] != gguf.GGUFValueType.ARRAY:
            return None
        return len(field.data) or None

    def pattern(self, key: str) -> int | list[bool] | None:
        """A per-layer list of booleans, or a period; anything else reads as missing."""
        value = self._value(key)
        if isinstance(value, list):
            return [bool(v) for v in value] if all(isinstance(v, bool | int) for v in value) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return None

    def text(self, key: str) -> str | None:
        value = self._value(key)
        return value if isinstance(value, str) else None

    def integer(self, key: str) -> int | None:
        value = self._value(key)
        if isinstance(value, list):  # per-layer values (e.g. head counts of hybrid models): report the widest
            value = max((v for v in value if isinstance(v, int)), default=None)
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return value
