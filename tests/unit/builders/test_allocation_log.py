"""Reading what llama-server allocated from its log.

`SMOLLM2_SERVER` and `GEMMA3_CPU` are llama.cpp b11434's own output (llama-server at `--verbosity 4`, which
prefixes each line with its time and level, and the library as an embedding program prints it); the GPU lines
follow the same format with figures made up.
"""

from __future__ import annotations

from controller.builders.allocation_log import MIB, BufferAllocation, parse_allocation_log, parse_buffer_line

#: Gemma 3 270M on CPU with --ctx-size 8192 --parallel 2: two weight buffers (mapped and repacked) and two KV
#: caches (the full layers' and the sliding-window layers'), interleaved with lines that are not allocations.
GEMMA3_CPU = """\
print_info: n_swa                 = 512
load_tensors:   CPU_Mapped model buffer size =   235.16 MiB
load_tensors:   CPU_REPACK model buffer size =    12.66 MiB
llama_context: n_ctx                 = 8192
llama_context:        CPU  output buffer size =     2.00 MiB
llama_kv_cache:        CPU KV buffer size =    24.00 MiB
llama_kv_cache: size =   24.00 MiB (  4096 cells,   3 layers,  2/2 seqs), K (f16):   12.00 MiB, V (f16):   12.00 MiB
llama_kv_cache:        CPU KV buffer size =    30.00 MiB
llama_kv_cache: size =   30.00 MiB (  1024 cells,  15 layers,  2/2 seqs), K (f16):   15.00 MiB, V (f16):   15.00 MiB
sched_reserve:        CPU compute buffer size =   524.53 MiB
~llama_context:        CPU compute buffer size is 524.5312 MiB, matches expectation of 524.5312 MiB
""".splitlines()


#: llama-server b11434 serving SmolLM2-135M on CPU with --ctx-size 2048 --parallel 1 --verbosity 4.
SMOLLM2_SERVER = """\
0.00.449.090 I load_tensors:   CPU_Mapped model buffer size =    92.10 MiB
0.00.451.854 I llama_context: n_outputs_max         = 1
0.00.452.712 I llama_context:        CPU  output buffer size =     0.19 MiB
0.00.452.825 I llama_kv_cache:        CPU KV buffer size =    45.00 MiB
0.00.511.516 I llama_kv_cache: size =   45.00 MiB (  2048 cells,  30 layers,  1/1 seqs), K (f16):   22.50 MiB, V (f16):   22.50 MiB
0.00.519.423 I sched_reserve:        CPU compute buffer size =    16.64 MiB
0.02.215.089 I srv  llama_server: model loaded
""".splitlines()


def mib(value: float) -> int:
    return round(value * MIB)


def test_a_buffer_line_gives_its_kind_device_and_bytes() -> None:
    line = "load_tensors:   CPU_Mapped model buffer size =   235.16 MiB"

    assert parse_buffer_line(line) == BufferAllocation(kind="model", device="CPU_Mapped", bytes=mib(235.16))


def test_llama_servers_time_and_level_prefix_is_skipped() -> None:
    allocation = parse_allocation_log(SMOLLM2_SERVER)

    assert allocation is not None
    assert allocation.buffers == (
        BufferAllocation(kind="model", device="CPU_Mapped", bytes=mib(92.10)),
        BufferAllocation(kind="KV", device="CPU", bytes=mib(45.00)),
        BufferAllocation(kind="compute", device="CPU", bytes=mib(16.64)),
        BufferAllocation(kind="output", device="CPU", bytes=mib(0.19)),
    )


def test_lines_that_are_not_allocations_are_ignored() -> None:
    assert (
        parse_buffer_line("llama_kv_cache: size =   24.00 MiB (  4096 cells,   3 layers,  2/2 seqs)") is None
    )
    assert (
        parse_buffer_line(GEMMA3_CPU[-1]) is None
    )  # the shutdown check repeats the figure; it is not a new buffer


def test_weights_and_kv_caches_add_up_over_their_buffers() -> None:
    allocation = parse_allocation_log(GEMMA3_CPU)

    assert allocation is not None
    assert allocation.weights_bytes == mib(235.16) + mib(12.66)
    assert allocation.kv_bytes == mib(24.00) + mib(30.00)
    assert allocation.compute_bytes == mib(524.53) + mib(2.00)
    assert allocation.devices() == ["CPU", "CPU_Mapped", "CPU_REPACK"]


def test_a_compute_buffer_reserved_again_replaces_the_earlier_one() -> None:
    lines = [*GEMMA3_CPU, "sched_reserve:        CPU compute buffer size =   530.00 MiB"]

    allocation = parse_allocation_log(lines)

    assert allocation is not None
    assert allocation.total("compute") == mib(530.00)


def test_a_second_model_load_replaces_the_first() -> None:
    reload = ["load_tensors:   CPU_Mapped model buffer size =    92.10 MiB"]

    allocation = parse_allocation_log([*GEMMA3_CPU, *reload])

    assert allocation is not None
    assert allocation.weights_bytes == mib(92.10)
    assert allocation.kv_bytes == 0


def test_gpu_buffers_are_kept_per_device() -> None:
    lines = [
        "load_tensors:        CUDA0 model buffer size =  2318.62 MiB",
        "load_tensors:        CUDA1 model buffer size =  2147.03 MiB",
        "load_tensors:   CPU_Mapped model buffer size =   281.81 MiB",
        "llama_kv_cache:      CUDA0 KV buffer size =   272.00 MiB",
        "llama_kv_cache:      CUDA1 KV buffer size =   240.00 MiB",
        "sched_reserve:      CUDA0 compute buffer size =   302.75 MiB",
        "sched_reserve:      CUDA1 compute buffer size =   670.01 MiB",
        "sched_reserve:  CUDA_Host compute buffer size =    80.07 MiB",
    ]

    allocation = parse_allocation_log(lines)

    assert allocation is not None
    assert allocation.devices() == ["CPU_Mapped", "CUDA0", "CUDA1", "CUDA_Host"]
    assert [b.device for b in allocation.buffers if b.kind == "compute"] == ["CUDA0", "CUDA1", "CUDA_Host"]


def test_a_log_without_allocations_gives_nothing() -> None:
    assert parse_allocation_log(["main: server is listening on http://127.0.0.1:8080"]) is None
