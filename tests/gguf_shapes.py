"""GGUF files of a chosen shape for tests: real headers and tensor tables written by the `gguf` package, tensors
tiny enough that a file takes kilobytes.

`write_model_gguf` writes a transformer the way llama.cpp's converters lay one out (token embedding, per-layer
attention and feed-forward tensors, output norm, an output projection unless it is tied to the embedding), with
the shape keys llama.cpp reads. `parameter_count` lets a test claim a size the tensors do not have (a 70B-shaped
header over kilobytes of tensors): the fact reader then ignores the tensor table and plans from the header.
`tensors_of` writes the tensors of another (tiny) shape under this shape's header, for files that claim the
width of a large model without its gigabytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import gguf
import numpy as np


@attrs.frozen(kw_only=True)
class ModelShape:
    architecture: str = "llama"
    name: str = "test model"
    block_count: int = 2
    embedding_length: int = 64
    head_count: int = 4
    head_count_kv: int = 2
    feed_forward_length: int = 128
    vocab_size: int = 96
    context_length: int = 4096
    key_length: int | None = None
    value_length: int | None = None
    expert_count: int | None = None
    expert_used_count: int | None = None
    expert_feed_forward_length: int | None = None
    sliding_window: int | None = None
    sliding_window_pattern: int | Sequence[bool] | None = None
    tied_output: bool = True
    file_type: gguf.LlamaFileType = gguf.LlamaFileType.MOSTLY_F16
    #: Recorded as `general.parameter_count` when set; the tensors keep their tiny shapes.
    parameter_count: int | None = None


def write_model_gguf(path: Path, shape: ModelShape, *, tensors_of: ModelShape | None = None) -> Path:
    arch = shape.architecture
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(shape.name)
    writer.add_file_type(int(shape.file_type))
    writer.add_context_length(shape.context_length)
    writer.add_block_count(shape.block_count)
    writer.add_embedding_length(shape.embedding_length)
    writer.add_feed_forward_length(shape.feed_forward_length)
    writer.add_head_count(shape.head_count)
    writer.add_head_count_kv(shape.head_count_kv)
    writer.add_vocab_size(shape.vocab_size)
    if shape.key_length is not None:
        writer.add_key_length(shape.key_length)
    if shape.value_length is not None:
        writer.add_value_length(shape.value_length)
    if shape.expert_count is not None:
        writer.add_expert_count(shape.expert_count)
    if shape.expert_used_count is not None:
        writer.add_expert_used_count(shape.expert_used_count)
    if shape.expert_feed_forward_length is not None:
        writer.add_expert_feed_forward_length(shape.expert_feed_forward_length)
    if shape.sliding_window is not None:
        writer.add_sliding_window(shape.sliding_window)
    if isinstance(shape.sliding_window_pattern, int):
        writer.add_uint32(f"{arch}.attention.sliding_window_pattern", shape.sliding_window_pattern)
    elif shape.sliding_window_pattern is not None:
        writer.add_array(f"{arch}.attention.sliding_window_pattern", list(shape.sliding_window_pattern))
    if shape.parameter_count is not None:
        writer.add_uint64("general.parameter_count", shape.parameter_count)
    writer.add_token_list([f"t{i}".encode() for i in range(shape.vocab_size)])
    for name, dims in _tensors(tensors_of or shape):
        writer.add_tensor(name, np.zeros(tuple(reversed(dims)), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _tensors(shape: ModelShape) -> list[tuple[str, tuple[int, ...]]]:
    """(name, llama.cpp dimensions) of every tensor, as a converter would write them."""
    embd, vocab = shape.embedding_length, shape.vocab_size
    head_k = shape.key_length or embd // shape.head_count
    head_v = shape.value_length or embd // shape.head_count
    tensors: list[tuple[str, tuple[int, ...]]] = [("token_embd.weight", (embd, vocab))]
    for i in range(shape.block_count):
        tensors += [
            (f"blk.{i}.attn_norm.weight", (embd,)),
            (f"blk.{i}.attn_q.weight", (embd, head_k * shape.head_count)),
            (f"blk.{i}.attn_k.weight", (embd, head_k * shape.head_count_kv)),
            (f"blk.{i}.attn_v.weight", (embd, head_v * shape.head_count_kv)),
            (f"blk.{i}.attn_output.weight", (head_v * shape.head_count, embd)),
            (f"blk.{i}.ffn_norm.weight", (embd,)),
        ]
        if shape.expert_count:
            ff = shape.expert_feed_forward_length or shape.feed_forward_length
            tensors += [
                (f"blk.{i}.ffn_gate_inp.weight", (embd, shape.expert_count)),
                (f"blk.{i}.ffn_gate_exps.weight", (embd, ff, shape.expert_count)),
                (f"blk.{i}.ffn_up_exps.weight", (embd, ff, shape.expert_count)),
                (f"blk.{i}.ffn_down_exps.weight", (ff, embd, shape.expert_count)),
            ]
        else:
            ff = shape.feed_forward_length
            tensors += [
                (f"blk.{i}.ffn_gate.weight", (embd, ff)),
                (f"blk.{i}.ffn_up.weight", (embd, ff)),
                (f"blk.{i}.ffn_down.weight", (ff, embd)),
            ]
    tensors.append(("output_norm.weight", (embd,)))
    if not shape.tied_output:
        tensors.append(("output.weight", (embd, vocab)))
    return tensors


def tensor_bytes(shape: ModelShape) -> dict[str, int]:
    """Bytes of each tensor `write_model_gguf` writes (all f16)."""
    return {name: 2 * int(np.prod(dims)) for name, dims in _tensors(shape)}
