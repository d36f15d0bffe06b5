from __future__ import annotations

from llmkube.fetch.cli import parse_options
from llmkube.fetch.progress import Progress
from llmkube.fetch.status_progress import progress_patch


def test_progress_patch_touches_only_status_progress() -> None:
    patch = progress_patch(
        name="m", namespace="ns", progress=Progress(bytes_done=10, bytes_total=100, bytes_per_second=5.0)
    )
    assert patch["metadata"] == {"name": "m", "namespace": "ns"}
    assert patch["status"] == {"progress": {"bytesDone": 10, "bytesTotal": 100}}


def test_unknown_total_is_left_out() -> None:
    patch = progress_patch(
        name="m", namespace="ns", progress=Progress(bytes_done=1, bytes_total=None, bytes_per_second=0)
    )
    assert patch["status"]["progress"] == {"bytesDone": 1}


def test_report_to_model_takes_the_namespace_from_the_downward_api(tmp_path: object) -> None:
    options = parse_options(
        ["--url", "https://h/m.gguf", "--cache-dir", "/tmp/c", "--report-to-model", "llama"],
        {"POD_NAMESPACE": "team-a"},
    )
    assert options.report_to_model == ("team-a", "llama")


def test_no_report_target_by_default() -> None:
    options = parse_options(["--url", "https://h/m.gguf", "--cache-dir", "/tmp/c"], {})
    assert options.report_to_model is None
