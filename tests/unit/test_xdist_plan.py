"""How `make test` shares the suite between two xdist workers (hack/xdist_plan.py), tried on test files of its own:
a file stays on one worker, the real-node tests stay on one worker, and the exit status says what happened."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from hack.xdist_plan import unit_of

REPO = Path(__file__).resolve().parents[2]

RunTests = Callable[..., pytest.RunResult]

#: Each test appends its name and its worker to a log, so the test can tell who ran what.
RECORDING_CONFTEST = """
import json, os
import pytest

@pytest.fixture(autouse=True)
def _record(request):
    with open(os.environ["RUN_LOG"], "a") as log:
        log.write(json.dumps([request.node.name, os.environ.get("PYTEST_XDIST_WORKER")]) + "\\n")
"""


@pytest.fixture
def run_log(tmp_path: Path) -> Path:
    return tmp_path / "run.jsonl"


@pytest.fixture
def run_tests(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, run_log: Path) -> RunTests:
    """Runs the files in a fresh pytest with two workers, the suite's scheduling and the local cluster's markers."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("RUN_LOG", str(run_log))
    pytester.makeconftest(RECORDING_CONFTEST)

    def run(**files: str) -> pytest.RunResult:
        pytester.makepyfile(**files)
        return pytester.runpytest_subprocess(
            "-p",
            "hack.xdist_plan",
            "-p",
            "hack.localcluster.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "--no-loadscope-reorder",
        )

    return run


def workers_by_test(run_log: Path) -> dict[str, str]:
    return dict(json.loads(line) for line in run_log.read_text().splitlines())


def test_a_unit_is_the_xdist_group_when_there_is_one_else_the_file() -> None:
    groups = {"tests/a/test_x.py::test_two[user@host]": "containers"}

    assert unit_of("tests/a/test_x.py::test_one", groups) == "tests/a/test_x.py"
    assert unit_of("tests/a/test_x.py::TestX::test_one[p]", groups) == "tests/a/test_x.py"
    assert unit_of("tests/a/test_x.py::test_two[user@host]", groups) == "containers"


def test_every_test_of_a_file_runs_on_one_worker_and_a_failure_fails_the_run(
    run_tests: RunTests, run_log: Path
) -> None:
    many = "\n".join(f"def test_{letter}{n}(): pass" for n in range(8) for letter in "ab")
    result = run_tests(
        test_first=many.replace("test_b", "test_c"),
        test_second=many.replace("test_a", "test_d") + "\ndef test_d_fails(): assert False\n",
    )

    result.assert_outcomes(passed=32, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    workers = workers_by_test(run_log)
    first = {worker for name, worker in workers.items() if name[5] in "ac"}
    second = {worker for name, worker in workers.items() if name[5] in "bd"}
    assert len(first) == 1, workers
    assert len(second) == 1, workers


def test_the_real_node_tests_of_every_file_run_on_one_worker_those_that_free_it_last(
    run_tests: RunTests, run_log: Path
) -> None:
    # The names the local cluster plugin looks for, stood in by fixtures that start nothing.
    stand_ins = (
        "import pytest\n"
        "@pytest.fixture\ndef real_cluster(): pass\n"
        "@pytest.fixture\ndef real_node_free(): pass\n"
    )
    result = run_tests(
        test_frees=stand_ins + "def test_starts_its_own_node(real_node_free): pass\n",
        test_plain="\n".join(f"def test_plain{n}(): pass" for n in range(6)),
        test_uses=stand_ins + "".join(f"def test_uses_the_node{n}(real_cluster): pass\n" for n in range(4)),
    )

    result.assert_outcomes(passed=11)
    ran = [json.loads(line) for line in run_log.read_text().splitlines()]
    on_the_node = [(name, worker) for name, worker in ran if "node" in name]
    assert len({worker for _, worker in on_the_node}) == 1, ran
    assert on_the_node[-1][0] == "test_starts_its_own_node", ran


def test_a_run_that_collects_nothing_says_so_in_its_exit_status(run_tests: RunTests) -> None:
    result = run_tests(test_one="def helper(): pass\n")

    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_a_real_node_that_left_the_host_changed_in_a_worker_fails_the_run(run_tests: RunTests) -> None:
    # What nodehost records when a real node's teardown finds the host different from its snapshot.
    result = run_tests(
        test_one="from hack.localcluster import nodehost\n"
        "def test_passes_but_a_node_left_a_change():\n"
        "    nodehost.unrestored.append('sysctl kernel/panic: 0 -> 10')\n"
    )

    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*a real node left the host changed*", "*sysctl kernel/panic: 0 -> 10*"])
