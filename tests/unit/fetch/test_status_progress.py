from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from controller.kube import ServerError
from controller.kube.resources import Resource
from controller.runtime.clock import FakeClock
from llmkube.fetch.cli import parse_options
from llmkube.fetch.progress import Progress
from llmkube.fetch.status_progress import (
    FAILURES_BEFORE_WARNING,
    ModelProgressReporter,
    progress_patch,
)

BUDGET_S = 2.5


class FlakyStatusWriter:
    """Fails the first `failures` calls with `error`, hangs (until cancelled) on those listed in `hangs`, and
    records the progress of every call that lands."""

    def __init__(self, *, failures: int = 0, hangs: tuple[int, ...] = ()) -> None:
        self.failures = failures
        self.hangs = hangs
        self.calls = 0
        self.landed: list[dict[str, Any]] = []

    async def apply_status(
        self, resource: Resource, obj: dict[str, Any], *, field_manager: str, force: bool = True
    ) -> dict[str, Any]:
        self.calls += 1
        if self.calls in self.hangs:
            await anyio.Event().wait()
        if self.calls <= self.failures:
            raise ServerError("etcdserver: request timed out", status=500)
        self.landed.append(obj["status"]["progress"])
        return obj


def progress(done: int) -> Progress:
    return Progress(bytes_done=done, bytes_total=100, bytes_per_second=1.0)


def logged_events(err: str) -> list[str]:
    return [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]


def reporter_on(writer: FlakyStatusWriter, clock: FakeClock | None = None) -> ModelProgressReporter:
    return ModelProgressReporter(
        writer, name="m", namespace="ns", budget_s=BUDGET_S, clock=clock or FakeClock()
    )


async def test_a_failed_report_is_retried_on_the_next_tick() -> None:
    writer = FlakyStatusWriter(failures=1)
    reporter = reporter_on(writer)
    await reporter(progress(10))
    await reporter(progress(20))
    assert writer.calls == 2
    assert writer.landed == [{"bytesDone": 20, "bytesTotal": 100}]


async def test_a_run_of_failures_is_logged_once_and_its_end_once(capsys: pytest.CaptureFixture[str]) -> None:
    writer = FlakyStatusWriter(failures=FAILURES_BEFORE_WARNING + 4)
    reporter = reporter_on(writer)
    for done in range(FAILURES_BEFORE_WARNING + 5):
        await reporter(progress(done))
    assert logged_events(capsys.readouterr().err) == ["progress-status-failing", "progress-status-resumed"]
    assert len(writer.landed) == 1


async def test_a_few_failures_in_a_row_are_not_logged(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = reporter_on(FlakyStatusWriter(failures=FAILURES_BEFORE_WARNING - 1))
    for done in range(FAILURES_BEFORE_WARNING + 1):
        await reporter(progress(done))
    assert logged_events(capsys.readouterr().err) == []


async def test_a_hung_report_is_given_up_within_its_budget_and_the_next_one_lands() -> None:
    clock = FakeClock()
    writer = FlakyStatusWriter(hangs=(1,))
    reporter = reporter_on(writer, clock)
    returned = anyio.Event()

    async def tick() -> None:
        await reporter(progress(10))
        returned.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(tick)
        await anyio.wait_all_tasks_blocked()
        clock.step(BUDGET_S - 0.5)
        await anyio.wait_all_tasks_blocked()
        assert not returned.is_set()
        clock.step(0.5)
    assert returned.is_set()
    await reporter(progress(20))
    assert writer.landed == [{"bytesDone": 20, "bytesTotal": 100}]


async def test_an_unexpected_error_in_a_report_does_not_reach_the_download(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Broken(FlakyStatusWriter):
        async def apply_status(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            raise RuntimeError("bug")

    reporter = reporter_on(Broken())
    for done in range(FAILURES_BEFORE_WARNING):
        await reporter(progress(done))
    [line] = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert (line["event"], line["error"]) == ("progress-status-failing", "RuntimeError: bug")


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
