from __future__ import annotations

import json

from api.v1alpha1.fetch_result import FetchResult
from api.v1alpha1.gguf import GGUFInfo
from llmkube.fetch.report import failure_line, result_line


def test_a_result_line_is_camel_case_json_without_empty_fields() -> None:
    line = result_line(FetchResult(ok=True, cache_key="abc", size_bytes=5))

    assert json.loads(line) == {"ok": True, "cacheKey": "abc", "sizeBytes": 5, "reused": False}


def test_a_long_message_is_shortened_to_fit_the_termination_message_limit() -> None:
    result = FetchResult(ok=False, reason="SourceNotFound", message="source https://x/" + "é" * 5000)

    line = result_line(result)

    assert len(line.encode()) <= 4096
    assert json.loads(line)["reason"] == "SourceNotFound"


def test_a_failure_line_names_the_reason_and_the_fix() -> None:
    result = FetchResult(ok=False, reason="SourceNotFound", message="source u returned 404: check the URL")

    assert failure_line(result) == "fetch failed: SourceNotFound: source u returned 404: check the URL"


def test_the_facts_of_a_large_sliding_window_model_fit_the_termination_message_with_room_to_spare() -> None:
    # Every fact set, 128 layers of which all but every sixth slide, a long name and a long cache path.
    gguf = GGUFInfo(
        architecture="gemma3",
        name="x" * 200,
        parameter_count=405_853_388_800,
        context_length=131_072,
        block_count=128,
        embedding_length=16_384,
        head_count=128,
        head_count_kv=8,
        file_type="MOSTLY_Q4_K_M",
        quantization="Q4_K_M",
        key_length=256,
        value_length=256,
        feed_forward_length=53_248,
        expert_feed_forward_length=2048,
        vocab_size=262_144,
        expert_count=256,
        expert_used_count=8,
        sliding_window=4096,
        sliding_window_layers=[layer for layer in range(128) if layer % 6 != 5],
        weight_bytes=245_000_000_000,
        token_embedding_bytes=2_000_000_000,
        output_bytes=2_000_000_000,
    )
    result = FetchResult(
        ok=True,
        cache_key="0123456789abcdef",
        path="/models/" + "p" * 300,
        sha256="f" * 64,
        size_bytes=1,
        gguf=gguf,
    )

    line = result_line(result)

    assert len(line.encode()) <= 2048
    assert json.loads(line)["gguf"]["slidingWindowLayers"][:3] == [0, 1, 2]
