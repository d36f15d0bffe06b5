from __future__ import annotations

from pathlib import Path

import pytest

from api.v1alpha1.gguf import GGUFInfo
from llmkube.fetch.errors import InvalidGGUF
from llmkube.fetch.gguf_facts import check_gguf_magic, quantization_name, read_gguf_facts


def test_reads_the_facts_of_smollm2(model_path: Path) -> None:
    assert read_gguf_facts(model_path, source="test") == GGUFInfo(
        architecture="llama",
        name="Smollm2 135M 8k Lc100K Mix1 Ep2",
        parameter_count=134_515_008,
        context_length=8192,
        block_count=30,
        embedding_length=576,
        head_count=9,
        head_count_kv=3,
        file_type="MOSTLY_Q4_1",
        quantization="Q4_1",
        feed_forward_length=1536,
        vocab_size=49152,
        weight_bytes=96_576_768,
        token_embedding_bytes=30_081_024,
    )


@pytest.mark.parametrize(
    ("file_type", "name"), [(0, "F32"), (3, "Q4_1"), (15, "Q4_K_M"), (32, "BF16"), (1024, None), (None, None)]
)
def test_names_quantization_as_people_search_for_it(file_type: int | None, name: str | None) -> None:
    assert quantization_name(file_type) == name


def test_a_file_that_is_not_gguf_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"PK\x03\x04 this is a zip archive" * 100)

    with pytest.raises(InvalidGGUF, match="not a valid GGUF file"):
        read_gguf_facts(path, source="source x")


def test_a_truncated_gguf_is_invalid(tmp_path: Path, model_path: Path) -> None:
    path = tmp_path / "model.gguf"
    with open(model_path, "rb") as fh:
        path.write_bytes(fh.read(4096))

    with pytest.raises(InvalidGGUF):
        read_gguf_facts(path, source="source x")


def test_the_first_bytes_of_an_html_page_fail_the_magic_check() -> None:
    with pytest.raises(InvalidGGUF, match="starts with b'<!DO'"):
        check_gguf_magic(b"<!DO")
