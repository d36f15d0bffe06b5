"""How the CLI fails: one line on stderr and a meaningful exit status, never a traceback for a known problem.

Exit 1: the command could not do its job (unreachable endpoint, unknown model, server error).
Exit 2: the command line itself is wrong (click reports its own usage errors with 2 as well).
Exit 130: interrupted by Ctrl-C.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console

from llmkube.catalog import CatalogError, UnknownModelError
from llmkube.inference import InferenceError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CliError(Exception):
    exit_code = EXIT_FAILED


class CliUsageError(CliError):
    exit_code = EXIT_USAGE


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def fail(message: str, *, exit_code: int = EXIT_FAILED) -> typer.Exit:
    stderr_console().print(f"error: {message}", style="red", markup=False, soft_wrap=True)
    return typer.Exit(exit_code)


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Turns the errors a user can act on into their one-line message; anything else is a bug and keeps its
    traceback."""
    try:
        yield
    except CliError as exc:
        raise fail(str(exc), exit_code=exc.exit_code) from None
    except UnknownModelError as exc:  # a mistyped catalog id is a usage error, wherever it is typed
        raise fail(str(exc), exit_code=EXIT_USAGE) from None
    except (CatalogError, InferenceError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None
