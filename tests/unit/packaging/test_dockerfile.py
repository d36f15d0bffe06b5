"""The image is built from the versions the tests ran against, and runs as a non-root user.

No Docker engine runs these tests, so the Dockerfile is checked by reading it (and by hadolint in hack/test.sh).
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), one list per build stage."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:  # lines before the first FROM are global ARGs, in no stage
            stages[-1].append(line)
    return stages


def test_every_pip_install_is_held_to_the_recorded_versions() -> None:
    installs = 0
    for stage in _stages():
        copied = " ".join(line for line in stage if line.startswith("COPY "))
        for line in stage:
            for command in re.findall(r"pip install[^&;]*", line):
                installs += 1
                assert "-c constraints.txt" in command, command
                assert "constraints.txt" in copied, "constraints.txt is not copied into the build stage"
    assert installs, "the Dockerfile installs nothing with pip"


def test_the_final_stage_runs_as_a_numeric_non_root_user() -> None:
    final = _stages()[-1]
    users = [line.split()[1] for line in final if line.startswith("USER ")]

    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
