"""Hostile and broken GGUF files: truncated anywhere in the header, counts that claim more than the file holds,
unknown types, not GGUF at all. Each fails with InvalidGGUF and a reason, at once: never another exception, never
a loop over a count the file cannot back (a hang would trip this module's timeout), never memory sized by a count.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.v1alpha1.fetch_result import cache_key_for
from llmkube.fetch.errors import InvalidGGUF
from llmkube.fetch.fetcher import FetchRequest, fetch
from llmkube.fetch.gguf_facts import read_gguf_facts
from llmkube.fetch.gguf_header import check_header
from llmkube.fetch.local_source import LocalFileSource

#: A hang guard, not a speed target: every case below parses in milliseconds.
pytestmark = pytest.mark.timeout(300)

FEW = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
U64 = st.one_of(st.integers(0, 64), st.integers(0, 2**64 - 1), st.sampled_from([2**31, 2**32, 2**40, 2**63]))
VALUE_TYPES = st.integers(0, 20)


def gguf_string(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def header(tensors: int, pairs: int, body: bytes = b"") -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, tensors, pairs) + body


@st.composite
def hostile_headers(draw: st.DrawFn) -> bytes:
    """A GGUF v3 header whose counts, types and lengths are drawn freely, followed by a little real data."""
    body = b""
    for _ in range(draw(st.integers(0, 3))):
        body += gguf_string(draw(st.binary(max_size=8)))
        value_type = draw(VALUE_TYPES)
        body += struct.pack("<I", value_type)
        if value_type == 9:
            body += struct.pack("<IQ", draw(VALUE_TYPES), draw(U64))
        elif value_type == 8:
            body += struct.pack("<Q", draw(U64))
        body += draw(st.binary(max_size=32))
    return header(draw(U64), draw(U64), body)


@pytest.fixture(scope="module")
def real_header(model_bytes: bytes) -> bytes:
    """SmolLM2's header (and the first bytes after it): the reference for truncations."""
    return model_bytes[: check_header(model_bytes) + 64]


def facts_or_reason(path: Path) -> str:
    """ "ok" when the facts were read, else InvalidGGUF's message (any other exception fails the test)."""
    try:
        read_gguf_facts(path, source="the source")
    except InvalidGGUF as exc:
        return str(exc)
    return "ok"


def is_a_reason(outcome: str) -> bool:
    return outcome == "ok" or outcome.startswith("the source is not a valid GGUF file")


@FEW
@given(data=hostile_headers())
@example(data=header(0, 1, gguf_string(b"a") + struct.pack("<IIQ", 9, 0, 2**40) + b"xx"))  # once a hang
@example(data=header(0, 1, gguf_string(b"general.name") + struct.pack("<IQ", 8, 2**62) + b"abc"))
@example(data=header(2**62, 2**62))
def test_a_hostile_header_fails_with_a_reason_or_reads(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "hostile.gguf"
    path.write_bytes(data)
    assert is_a_reason(facts_or_reason(path))


@FEW
@given(fraction=st.floats(0.0, 1.0, exclude_max=True))
def test_a_header_cut_anywhere_is_invalid(tmp_path: Path, real_header: bytes, fraction: float) -> None:
    cut = int(fraction * check_header(real_header))
    path = tmp_path / "truncated.gguf"
    path.write_bytes(real_header[:cut])
    outcome = facts_or_reason(path)
    assert outcome != "ok"
    assert is_a_reason(outcome)


@FEW
@given(data=st.binary(min_size=0, max_size=256).filter(lambda b: not b.startswith(b"GGUF")))
def test_a_file_that_is_not_gguf_is_invalid(data: bytes) -> None:
    with pytest.raises(InvalidGGUF):
        check_header(data)


def test_a_count_beyond_the_file_names_the_field_and_the_bytes_left() -> None:
    data = header(0, 1, gguf_string(b"tokens") + struct.pack("<IIQ", 9, 8, 2**40))
    with pytest.raises(InvalidGGUF, match=r"claims 1099511627776 items .* more than the 0 bytes left"):
        check_header(data)


def test_an_unsupported_version_is_named() -> None:
    with pytest.raises(InvalidGGUF, match="GGUF version 7 is not supported"):
        check_header(b"GGUF" + struct.pack("<IQQ", 7, 0, 0))


def test_the_real_header_passes_and_ends_before_the_tensor_data(real_header: bytes) -> None:
    assert check_header(real_header) == len(real_header) - 64


async def test_the_fetcher_refuses_a_hostile_file_with_invalid_gguf_and_caches_nothing(
    tmp_path: Path, cache_dir: Path
) -> None:
    source_path = tmp_path / "hostile.gguf"
    source_path.write_bytes(header(0, 1, gguf_string(b"a") + struct.pack("<IIQ", 9, 0, 2**40) + b"xx"))
    source = LocalFileSource(path=source_path, identity=str(source_path))
    key = cache_key_for(source.identity)
    with pytest.raises(InvalidGGUF, match="claims 1099511627776 items"):
        await fetch(FetchRequest(source=source, cache_dir=cache_dir, cache_key=key))
    assert not (cache_dir / key / "model.gguf").exists()
