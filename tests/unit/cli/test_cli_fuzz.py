"""`llmkube` under arbitrary command lines: every one ends with exit 0, 1 or 2 and at most a one-line error,
never a traceback.

The command lines are drawn from the real options of each command (read from the click tree, so a new option is
fuzzed without a change here) with hostile values. No cluster is reachable (the kubeconfig does not exist) and
every endpoint is a closed loopback port, so commands fail the way a user would see them fail. `agent` and
`fetch` are left out: one runs until stopped, the other downloads what it is given.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import typer.main
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llmkube.cli.main import app

pytestmark = pytest.mark.timeout(300)

SKIPPED = {"agent", "fetch"}
EXIT_CODES = {0, 1, 2}
#: Values that break naive parsing; numbers stay small so a drawn iteration count cannot run long.
NASTY = st.sampled_from(
    ["", "-1", "0", "1", "2", "1.5", "nan", "-", "--", "=", "a b", "x" * 300, "é", "\x00", "1,4,x", "0,0"]
)
VALUES = st.one_of(NASTY, st.text(max_size=12))


def _closed_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _commands() -> dict[str, Any]:
    """Every command below the root, by its words ("catalog list"); click's classes come from typer's own copy,
    so groups and options are told apart by what they carry."""
    root = typer.main.get_command(app)
    found: dict[str, Any] = {}
    for name, command in getattr(root, "commands", {}).items():
        if name in SKIPPED:
            continue
        subcommands = getattr(command, "commands", None)
        if subcommands:
            found.update({f"{name} {sub}": cmd for sub, cmd in subcommands.items()})
        else:
            found[name] = command
    assert {"deploy", "chat", "benchmark"} <= set(found)
    return found


COMMANDS = _commands()


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    path = draw(st.sampled_from(sorted(COMMANDS)))
    command = COMMANDS[path]
    options = [p for p in command.params if p.param_type_name == "option"]
    argv = path.split()
    for _ in range(draw(st.integers(0, 4))):
        if options and draw(st.booleans()):
            option = draw(st.sampled_from(options))
            flag = draw(st.sampled_from(option.opts + option.secondary_opts))
            argv.append(flag)
            if option.is_flag or flag in option.secondary_opts:
                continue
            if "endpoint" in option.name:
                argv.append(draw(st.sampled_from([ENDPOINT, "", "not a url", "http://[::1", "127.0.0.1:0"])))
            else:
                argv.append(draw(VALUES))
        else:
            argv.append(draw(VALUES))
    return argv


ENDPOINT = _closed_endpoint()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
@example(argv=["status", "x", "--kubeconfig", "x" * 300])  # the OS refused the name: once a traceback
@example(argv=["list", "--kubeconfig", "a\x00b"])
def test_any_command_line_ends_with_a_known_exit_code_and_no_traceback(
    tmp_path: Path, argv: list[str]
) -> None:
    env = {
        "KUBECONFIG": str(tmp_path / "no-such-kubeconfig"),
        "HOME": str(tmp_path),
        "LLMKUBE_NAMESPACE": "",
        "LLMKUBE_API_KEY": "",
    }
    result = CliRunner().invoke(app, argv, env=env, input="")
    output = result.output
    assert "Traceback" not in output, (argv, output)
    assert result.exit_code in EXIT_CODES, (argv, result.exit_code, output, result.exception)
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), (argv, repr(result.exception))
