"""The download Job's arguments are the ones `llmkube fetch` accepts (the two sides of one contract)."""

from __future__ import annotations

from typing import Any

import pytest

from api.v1alpha1.fetch_result import cache_key_for
from controller.builders.fetch_job import desired_fetch_job
from controller.config import ControllerConfig
from llmkube.fetch.cli import parse_options
from tests.unit.builders.conftest import model_from

SOURCES: list[dict[str, Any]] = [
    {"huggingFace": {"repo": "o/r", "filename": "a.gguf", "revision": "v1"}},
    {"url": "https://example.com/a.gguf"},
    {"pvc": {"claimName": "airgap", "path": "llms/a.gguf"}},
]


@pytest.mark.parametrize("source", SOURCES, ids=["huggingFace", "url", "pvc"])
def test_fetch_accepts_the_jobs_arguments_and_uses_the_same_cache_key(source: dict[str, Any]) -> None:
    model = model_from({"source": source, "sha256": "e" * 64})
    key = cache_key_for(model.spec.source.identity())
    job = desired_fetch_job(model=model, cache_key=key, config=ControllerConfig())
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][1] == "fetch"
    options = parse_options(container["args"], {})
    assert options.request.cache_key == key
    assert options.request.identity == model.spec.source.identity()
    assert options.request.expected_sha256 == "e" * 64
