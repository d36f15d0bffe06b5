"""hack/kind-up.sh, checked without Docker or kind (this repository's CI has neither): the script parses, passes
ShellCheck, and its --dry-run prints the install a user with Docker gets, in order."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "hack" / "kind-up.sh"


def dry_run(tmp_path: Path, *args: str) -> list[list[str]]:
    done = subprocess.run(
        ["bash", str(SCRIPT), "--dry-run", "--name", "demo", *args],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    return [shlex.split(line[2:]) for line in done.stdout.splitlines() if line.startswith("+ ")]


def test_the_script_parses_and_passes_shellcheck() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    shellcheck = Path(sys.executable).parent / "shellcheck"
    checked = subprocess.run([str(shellcheck), str(SCRIPT)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout


def test_dry_run_builds_loads_and_installs_the_controller_in_order(tmp_path: Path) -> None:
    commands = dry_run(tmp_path)

    state = tmp_path / ".cache" / "llmkube" / "kind-demo"
    kubeconfig, overlay = str(state / "kubeconfig"), str(state / "overlay")
    [build] = [c for c in commands if c[:2] == ["docker", "build"]]
    image = build[build.index("--tag") + 1]
    assert image.startswith("localhost/llmkube/controller:dev-")
    assert build[-1] == "."
    assert [c[:3] for c in commands] == [
        ["docker", "build", "--tag"],
        ["mkdir", "-p", str(state)],
        ["kind", "create", "cluster"],
        ["kind", "load", "docker-image"],
        [".venv/bin/python", "-m", "hack.images"],
        ["kubectl", "--kubeconfig", kubeconfig],
        ["kubectl", "--kubeconfig", kubeconfig],
    ]
    assert commands[2] == [
        "kind",
        "create",
        "cluster",
        "--name",
        "demo",
        "--kubeconfig",
        kubeconfig,
        "--wait",
        "120s",
    ]
    assert commands[3] == ["kind", "load", "docker-image", "--name", "demo", image]
    assert commands[4][3:] == ["overlay", overlay, "--controller", image]
    assert commands[5][3:] == ["apply", "-k", overlay]
    assert commands[6][3:6] == ["-n", "llmkube-system", "rollout"]
    assert "deployment/llmkube-controller-manager" in commands[6]


def test_dry_run_with_the_llama_server_builds_and_names_it_too(tmp_path: Path) -> None:
    commands = dry_run(tmp_path, "--llama-server")

    builds = [c for c in commands if c[:2] == ["docker", "build"]]
    tags = [c[c.index("--tag") + 1] for c in builds]
    assert [tag.rsplit(":", 1)[0] for tag in tags] == [
        "localhost/llmkube/controller",
        "localhost/llmkube/debian-llama",
        "localhost/llmkube/llama-server-cpu",
    ]
    assert f"BASE_IMAGE={tags[1]}" in builds[2]
    assert ["kind", "load", "docker-image", "--name", "demo", tags[0], tags[2]] in commands
    [overlay] = [c for c in commands if c[1:4] == ["-m", "hack.images", "overlay"]]
    assert overlay[-4:] == ["--controller", tags[0], "--llama-server-cpu", tags[2]]
    [context] = [c for c in commands if "context" in c]
    assert context[:5] == [".venv/bin/python", "-m", "hack.images", "context", "llama-server-cpu"]


def test_an_unknown_argument_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), "--bogus"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    assert "unknown argument --bogus" in done.stderr
