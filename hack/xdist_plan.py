"""pytest plugin: how `make test` shares the suite between pytest-xdist workers (`-n 2 --dist loadgroup`).

Most of the suite's wall time is waiting (pods, control planes, image loads, llama-server answers), so two
workers on two cores finish well before one. Each worker is its own pytest session, with its own local control
plane (free ports, its own state dir) and its own session fixtures. Two things must not be split between them:

- A test file. Module-scoped fixtures (a demo run, a Prometheus scene, a llama-server per configuration) would
  start once per worker that runs a test of the file. So a unit of work is a whole file, not a test.
- An `xdist_group`. The real node is machine-wide (one at a time, behind a lock): every test that uses it is in
  the group `real-node` (hack/localcluster/pytest_plugin.py), so one worker runs them all, in collection order,
  with the tests that start their own node after the session's real cluster has been stopped. The container
  tests load images of hundreds of megabytes into one podman store per session: they are the group `containers`.

xdist's own `loadgroup` told the controller of a test's group by appending `@group` to its node ID, which pytest
9.2's structured node IDs no longer allow (pytest-xdist issue 1386): the groups are silently ignored. So each
worker writes the groups it collected to a file in a directory the controller hands it, before it reports its
collection; the controller reads them when it plans.

Units go out in collection order (`--no-loadscope-reorder`), which the workers sort so the longest come first and
the short ones fill the end: the groups (each a chain only one worker can run), then the files that need a
cluster, a llama-server or podman, then the unit tests. The sort is stable, so the real-node tests that start
their own node stay after the others.

Without `--dist loadgroup` (a plain `pytest`, or `-n 0`) nothing here applies.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

#: The workerinput key naming the directory where workers leave their groups for the controller.
GROUPS_DIR_KEY = "llmkube_xdist_groups_dir"
_GROUPS_DIR = pytest.StashKey[Path]()
#: Many short tests, which start nothing: they go out last.
UNIT_TESTS = Path("tests", "unit")


def unit_of(nodeid: str, groups: Mapping[str, str]) -> str:
    """The unit of work a test belongs to: its xdist group when it has one, else its file."""
    return groups.get(nodeid) or nodeid.split("::", 1)[0]


def groups_of(items: list[pytest.Item]) -> dict[str, str]:
    """Node ID -> xdist group name, for the items that have one (several groups join into one name)."""
    groups = {}
    for item in items:
        names = sorted({_group_name(mark) for mark in item.iter_markers("xdist_group")})
        if names:
            groups[item.nodeid] = "_".join(names)
    return groups


def _group_name(mark: pytest.Mark) -> str:
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


class GroupOrFileScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no type information
    """xdist's scope scheduling with one scope per xdist group, and otherwise one per file."""

    def __init__(self, config: pytest.Config, log: Producer, groups_dir: Path) -> None:
        super().__init__(config, log)
        self._groups_dir = groups_dir
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:  # first called once every worker has reported its collection
            self._groups = _read_groups(self._groups_dir)
        return unit_of(nodeid, self._groups)


def _read_groups(directory: Path) -> dict[str, str]:
    """The groups the workers wrote; every worker collects the same tests, so any one file would do."""
    groups: dict[str, str] = {}
    for path in sorted(directory.glob("*.json")):
        groups.update(json.loads(path.read_text()))
    return groups


# -- controller -------------------------------------------------------------------------------------------


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    config = node.config
    if _GROUPS_DIR not in config.stash:
        config.stash[_GROUPS_DIR] = Path(tempfile.mkdtemp(prefix="llmkube-xdist-groups-"))
    node.workerinput[GROUPS_DIR_KEY] = str(config.stash[_GROUPS_DIR])


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LoadScopeScheduling | None:
    if config.getvalue("dist") != "loadgroup":
        return None
    return GroupOrFileScheduling(config, log, config.stash[_GROUPS_DIR])


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = config.stash.get(_GROUPS_DIR, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


# -- worker -----------------------------------------------------------------------------------------------


@pytest.hookimpl(trylast=True)  # after the plugins that add groups and order the real-node tests
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):
        return
    items.sort(key=lambda item: _weight(item, config.rootpath))


def _weight(item: pytest.Item, root: Path) -> int:
    if item.get_closest_marker("xdist_group") is not None:
        return 0
    return 2 if item.path.is_relative_to(root / UNIT_TESTS) else 1


@pytest.hookimpl(tryfirst=True)  # before xdist's worker reports its collection to the controller
def pytest_collection_finish(session: pytest.Session) -> None:
    workerinput = getattr(session.config, "workerinput", None)
    if workerinput is None or GROUPS_DIR_KEY not in workerinput:
        return
    path = Path(workerinput[GROUPS_DIR_KEY]) / f"{workerinput['workerid']}.json"
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(groups_of(session.items)))
    os.replace(partial, path)
