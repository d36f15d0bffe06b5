from __future__ import annotations

import pytest

from controller.builders.server_memory_args import ServerMemoryOptions, server_memory_options


def test_no_extra_args_means_llama_server_defaults() -> None:
    assert server_memory_options(None) == ServerMemoryOptions()
    assert ServerMemoryOptions().cache_type_k == "f16"
    assert ServerMemoryOptions().ubatch == 512


@pytest.mark.parametrize(
    "args",
    [
        ["--cache-type-k", "q8_0", "--cache-type-v", "q4_0"],
        ["-ctk", "q8_0", "-ctv", "q4_0"],
        ["--cache-type-k=q8_0", "--cache-type-v=Q4_0"],
    ],
)
def test_cache_types_are_read_in_every_spelling(args: list[str]) -> None:
    options = server_memory_options(args)

    assert (options.cache_type_k, options.cache_type_v) == ("q8_0", "q4_0")


def test_the_last_occurrence_of_a_flag_wins_as_in_llama_server() -> None:
    assert server_memory_options(["-ub", "256", "--ubatch-size", "1024"]).ubatch == 1024


def test_switches_and_flash_attention_off_are_read() -> None:
    options = server_memory_options(["--swa-full", "-kvu", "--no-kv-offload", "-fa", "off", "--jinja"])

    assert options.swa_full
    assert options.kv_unified
    assert not options.kv_offload
    assert not options.flash_attention


def test_a_value_llama_server_would_reject_keeps_the_default() -> None:
    options = server_memory_options(["--cache-type-k", "q3_x", "-b", "lots"])

    assert options.cache_type_k == "f16"
    assert options.batch == 2048


def test_context_slots_and_offloaded_layers_in_extra_args_are_read() -> None:
    options = server_memory_options(["-c", "32768", "--parallel", "8", "-ngl", "20"])

    assert (options.context_size, options.parallel, options.n_gpu_layers) == (32768, 8, 20)


def test_automatic_slots_mean_four_sharing_a_unified_cache() -> None:
    options = server_memory_options(["--parallel", "-1"])

    assert (options.parallel, options.kv_unified) == (4, True)


def test_generation_reserves_one_output_row_per_slot_and_embeddings_a_whole_batch() -> None:
    assert server_memory_options([]).output_rows(4) == 4
    assert server_memory_options(["--embedding"]).output_rows(4) == 2048
    assert server_memory_options(["--pooling", "mean"]).output_rows(4) == 2048
    assert server_memory_options(["--pooling", "none"]).output_rows(4) == 4
