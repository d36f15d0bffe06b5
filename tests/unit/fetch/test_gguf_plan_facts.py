"""The facts the memory plan needs, read from GGUF files of known shape written by the `gguf` package."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from llmkube.fetch.gguf_facts import read_gguf_facts
from llmkube.fetch.sliding_window import sliding_window
from tests.gguf_shapes import ModelShape, tensor_bytes, write_model_gguf

LLAMA = ModelShape(
    architecture="llama", block_count=3, embedding_length=64, head_count=8, head_count_kv=2, vocab_size=96
)
MOE = ModelShape(
    architecture="qwen3moe",
    block_count=2,
    embedding_length=64,
    head_count=4,
    head_count_kv=4,
    key_length=32,
    value_length=32,
    expert_count=8,
    expert_used_count=2,
    expert_feed_forward_length=48,
)
GEMMA3 = ModelShape(
    architecture="gemma3",
    block_count=12,
    embedding_length=64,
    head_count=4,
    head_count_kv=1,
    key_length=32,
    value_length=32,
    sliding_window=512,
)


def test_a_llama_shaped_file_gives_its_attention_and_feed_forward_shape(tmp_path: Path) -> None:
    info = read_gguf_facts(write_model_gguf(tmp_path / "model.gguf", LLAMA), source="test")

    assert (info.block_count, info.embedding_length, info.head_count, info.head_count_kv) == (3, 64, 8, 2)
    assert info.feed_forward_length == 128
    assert info.vocab_size == 96
    assert info.key_length is None  # not recorded: llama.cpp derives embedding / heads
    assert info.expert_count is None
    assert info.sliding_window is None
    assert info.sliding_window_layers is None


def test_weights_are_the_bytes_of_the_tensor_table(tmp_path: Path) -> None:
    info = read_gguf_facts(write_model_gguf(tmp_path / "model.gguf", LLAMA), source="test")

    sizes = tensor_bytes(LLAMA)
    assert info.weight_bytes == sum(sizes.values())
    assert info.token_embedding_bytes == sizes["token_embd.weight"] == 2 * 64 * 96
    assert info.output_bytes is None  # tied to the embedding


def test_an_untied_output_projection_is_counted_apart(tmp_path: Path) -> None:
    shape = ModelShape(tied_output=False)
    info = read_gguf_facts(write_model_gguf(tmp_path / "model.gguf", shape), source="test")

    assert info.output_bytes == tensor_bytes(shape)["output.weight"]


def test_a_header_that_claims_more_parameters_than_its_tensors_hold_gives_no_weight_bytes(
    tmp_path: Path,
) -> None:
    shape = ModelShape(parameter_count=70_553_706_496)
    info = read_gguf_facts(write_model_gguf(tmp_path / "model.gguf", shape), source="test")

    assert info.parameter_count == 70_553_706_496
    assert info.weight_bytes is None
    assert info.token_embedding_bytes is None


def test_a_mixture_of_experts_file_gives_expert_counts_and_head_widths(tmp_path: Path) -> None:
    info = read_gguf_facts(write_model_gguf(tmp_path / "model.gguf", MOE), source="test")

    assert (info.expert_count, info.expert_used_count) == (8, 2)
    assert info.expert_feed_forward_length == 48
    assert (info.key_length, info.value_length) == (32, 32)
    assert info.weight_bytes == sum(tensor_bytes(MOE).values())


def test_gemma3_slides_five_layers_of_every_six_when_the_file_records_no_pattern(tmp_path: Path) -> None:
    info = read_gguf_facts(write_model_gguf(tmp_path / "model.gguf", GEMMA3), source="test")

    assert info.sliding_window == 512
    assert info.sliding_window_layers == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]


def test_a_per_layer_pattern_in_the_file_wins_over_the_architecture_default(tmp_path: Path) -> None:
    pattern = [True, False] * 6
    shape = attrs.evolve(GEMMA3, sliding_window_pattern=pattern)
    info = read_gguf_facts(write_model_gguf(tmp_path / "model.gguf", shape), source="test")

    assert info.sliding_window_layers == [0, 2, 4, 6, 8, 10]


def test_gemma3_without_a_window_in_the_file_has_no_sliding_layers(tmp_path: Path) -> None:
    shape = attrs.evolve(GEMMA3, sliding_window=None)
    info = read_gguf_facts(write_model_gguf(tmp_path / "model.gguf", shape), source="test")

    assert info.sliding_window is None
    assert info.sliding_window_layers is None


def test_a_window_recorded_by_an_architecture_llama_cpp_runs_without_one_is_not_reported(
    tmp_path: Path,
) -> None:
    # Mistral-style llama files carry a sliding_window key that llama.cpp's llama loader never reads.
    shape = ModelShape(architecture="llama", sliding_window=4096)
    info = read_gguf_facts(write_model_gguf(tmp_path / "model.gguf", shape), source="test")

    assert info.sliding_window is None


@pytest.mark.parametrize(
    ("architecture", "period", "layers"),
    [
        ("gemma2", None, [0, 2, 4, 6]),  # every other layer, the full one last in each pair
        ("cohere2moe", None, [1, 2, 3, 5, 6, 7]),  # full layer first in each group of four
        ("gemma3", 4, [0, 1, 2, 4, 5, 6]),  # a period in the file replaces the default 6
        ("gemma3", 0, list(range(8))),  # period 0: every layer slides
    ],
)
def test_sliding_layers_follow_each_architectures_rule(
    architecture: str, period: int | None, layers: list[int]
) -> None:
    found = sliding_window(
        architecture=architecture, block_count=8, window_in_file=1024, pattern_in_file=period
    )

    assert found is not None
    assert found.layers == layers


def test_gemma2_uses_its_default_window_when_the_file_records_none() -> None:
    found = sliding_window(architecture="gemma2", block_count=4, window_in_file=None, pattern_in_file=None)

    assert found is not None
    assert found.window == 4096
