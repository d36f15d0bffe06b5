"""The watch stream is split into JSON lines by hand: any length, any chunking, errors typed."""

from __future__ import annotations

import json

import pytest

from controller.kube.errors import Gone, KubeError
from controller.kube.watch import LineSplitter, parse_event


def event_line(event_type: str, name: str, rv: str = "1", payload: str = "") -> bytes:
    obj = {"metadata": {"name": name, "resourceVersion": rv}, "data": {"x": payload}}
    return json.dumps({"type": event_type, "object": obj}).encode()


def test_a_line_split_across_chunks_is_joined() -> None:
    line = event_line("ADDED", "a")
    splitter = LineSplitter()
    assert splitter.feed(line[:10]) == []
    assert splitter.feed(line[10:] + b"\n") == [line]


def test_several_lines_in_one_chunk_come_out_in_order() -> None:
    first, second = event_line("ADDED", "a"), event_line("MODIFIED", "a", "2")
    assert LineSplitter().feed(first + b"\n" + second + b"\n") == [first, second]


def test_a_line_far_longer_than_aiohttps_limit_is_accepted() -> None:
    line = event_line("ADDED", "big", payload="x" * (3 << 20))
    splitter = LineSplitter()
    out: list[bytes] = []
    for start in range(0, len(line), 65536):
        out += splitter.feed(line[start : start + 65536])
    out += splitter.feed(b"\n")
    assert out == [line]
    assert parse_event(out[0]).object["metadata"]["name"] == "big"


def test_an_unterminated_last_line_is_kept_as_the_tail() -> None:
    splitter = LineSplitter()
    splitter.feed(event_line("ADDED", "a"))
    assert parse_event(splitter.tail()).type == "ADDED"


def test_bookmark_carries_the_resource_version() -> None:
    line = json.dumps(
        {"type": "BOOKMARK", "object": {"kind": "ConfigMap", "metadata": {"resourceVersion": "42"}}}
    )
    assert parse_event(line.encode()).resource_version == "42"


def test_error_event_with_410_raises_gone() -> None:
    status = {
        "kind": "Status",
        "code": 410,
        "reason": "Expired",
        "message": "too old resource version: 5 (90)",
    }
    with pytest.raises(Gone, match="too old resource version"):
        parse_event(json.dumps({"type": "ERROR", "object": status}).encode())


def test_garbage_line_raises_a_kube_error() -> None:
    with pytest.raises(KubeError, match="not JSON"):
        parse_event(b"{nope")
