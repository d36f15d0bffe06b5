from __future__ import annotations

import json

from api.v1alpha1.fetch_result import FetchResult
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
