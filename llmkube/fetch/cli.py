"""`llmkube fetch`: the program the Model's download Job runs.

Contract with the Job (and the reconciler reading its pod): progress as JSON lines on stderr; on exit, one JSON
`FetchResult` line on stdout and in the termination-message file; exit 0 when the model is in the cache, 1 when
the fetch failed (one `fetch failed: <Reason>: <message>` line on stderr), 2 for bad arguments.

The HuggingFace token comes only from the environment (`HF_TOKEN`, filled from the Model's Secret), never from
arguments, which would show in `kubectl describe pod` and in `ps`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path

import anyio
import attrs

from api.v1alpha1.fetch_result import FetchResult, cache_key_for
from llmkube.fetch.errors import FetchError
from llmkube.fetch.fetcher import FetchRequest, fetch
from llmkube.fetch.http_source import HttpSource, Timeouts
from llmkube.fetch.local_source import LocalFileSource, path_from_file_url
from llmkube.fetch.progress import ProgressCallback, log_progress
from llmkube.fetch.report import default_termination_log, failure_line, result_line, write_termination_message
from llmkube.fetch.retry import Backoff
from llmkube.fetch.source import Source

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70


@attrs.frozen(kw_only=True)
class FetchOptions:
    request: FetchRequest
    termination_log: Path | None
    progress_interval_s: float
    #: (namespace, name) of the Model whose status.progress this fetch reports into, if any.
    report_to_model: tuple[str, str] | None = None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmkube fetch",
        description="Download a GGUF model into the cache, verify it and report its facts as one JSON line.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="http(s) or file:// URL of a .gguf file")
    where.add_argument("--hf-repo", metavar="REPO", help="HuggingFace repository, owner/name")
    where.add_argument("--local-path", metavar="PATH", type=Path, help="a .gguf file on a mounted volume")
    parser.add_argument("--hf-file", metavar="FILE", help="path of the .gguf file in --hf-repo")
    parser.add_argument("--revision", help="branch, tag or commit of --hf-repo (default: main)")
    parser.add_argument("--cache-dir", type=Path, required=True, help="root of the model cache volume")
    parser.add_argument(
        "--cache-key", help="directory inside the cache (default: derived from the source identity)"
    )
    parser.add_argument(
        "--source-identity",
        help="canonical source name to record and derive the cache key from (e.g. pvc://claim/path for "
        "--local-path); default: the URL, hf://repo/file@revision, or the absolute path",
    )
    parser.add_argument(
        "--sha256", metavar="HEX", help="expected sha256 of the file; a mismatch fails the fetch"
    )
    parser.add_argument(
        "--termination-log",
        type=Path,
        help="where to write the result line (default: /dev/termination-log when present)",
    )
    parser.add_argument("--progress-interval", type=float, default=5.0, metavar="SECONDS")
    parser.add_argument(
        "--report-to-model",
        metavar="NAME",
        help="also write progress into this Model's status.progress (namespace from $POD_NAMESPACE)",
    )
    parser.add_argument("--retries", type=int, default=5, help="retries without progress before giving up")
    parser.add_argument("--connect-timeout", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--read-timeout", type=float, default=60.0, metavar="SECONDS", help="longest silence")
    return parser


def parse_options(argv: list[str] | None, env: Mapping[str, str]) -> FetchOptions:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.hf_repo is None and (args.hf_file is not None or args.revision is not None):
        parser.error("--hf-file and --revision go with --hf-repo")
    if args.hf_repo is not None and args.hf_file is None:
        parser.error("--hf-repo needs --hf-file")
    if args.url is not None and not re.match(r"^(https?|file)://", args.url):
        parser.error("--url must be an http://, https:// or file:// URL")
    if args.sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", args.sha256):
        parser.error("--sha256 must be 64 hex digits")
    if args.retries < 0 or args.progress_interval <= 0:
        parser.error("--retries must be >= 0 and --progress-interval > 0")
    source = _source(args, env)
    identity = args.source_identity or source.identity
    report_to: tuple[str, str] | None = None
    if args.report_to_model:
        report_to = (env.get("POD_NAMESPACE") or "default", args.report_to_model)
    return FetchOptions(
        request=FetchRequest(
            source=source,
            cache_dir=args.cache_dir,
            cache_key=args.cache_key or cache_key_for(identity),
            expected_sha256=args.sha256,
            identity=identity,
        ),
        termination_log=args.termination_log or default_termination_log(),
        progress_interval_s=args.progress_interval,
        report_to_model=report_to,
    )


def _source(args: argparse.Namespace, env: Mapping[str, str]) -> Source:
    timeouts = Timeouts(connect_s=args.connect_timeout, idle_read_s=args.read_timeout)
    backoff = Backoff(retries=args.retries)
    if args.hf_repo is not None:
        # Imported here: huggingface_hub costs a third of a second at start-up that URL and PVC fetches need not pay.
        from llmkube.fetch.hf_source import DEFAULT_ENDPOINT, HuggingFaceSource

        return HuggingFaceSource(
            repo=args.hf_repo,
            filename=args.hf_file,
            revision=args.revision or "main",
            endpoint=(env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/"),
            token=env.get("HF_TOKEN") or None,
            timeouts=timeouts,
            backoff=backoff,
        )
    if args.local_path is not None:
        path = args.local_path.absolute()
        return LocalFileSource(path=path, identity=str(path))
    if args.url.startswith("file://"):
        return LocalFileSource(path=path_from_file_url(args.url), identity=args.url)
    return HttpSource(url=args.url, identity=args.url, timeouts=timeouts, backoff=backoff)


async def run(
    options: FetchOptions, *, on_progress: ProgressCallback = log_progress
) -> tuple[FetchResult, int]:
    """The fetch as a result and exit code; the seam where a caller plugs in its own progress reporting."""
    request = options.request
    try:
        result = await fetch(
            request, on_progress=on_progress, progress_interval_s=options.progress_interval_s
        )
    except FetchError as exc:
        failed = FetchResult(ok=False, reason=exc.reason, message=exc.message, cache_key=request.cache_key)
        print(failure_line(failed), file=sys.stderr, flush=True)
        return failed, EXIT_FAILED
    return result, 0


async def run_reporting(options: FetchOptions) -> tuple[FetchResult, int]:
    """`run`, plus progress into the Model's status when asked and when the API is reachable."""
    if options.report_to_model is None:
        return await run(options)
    # Imported here: the Kubernetes client is only needed inside a download Job.
    from controller.kube import KubeClient
    from llmkube.fetch.status_progress import ModelProgressReporter, chained

    namespace, name = options.report_to_model
    async with contextlib.AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(KubeClient.connect())
        except Exception as exc:  # no credentials or no API: progress goes to the log only
            print(
                f"progress will not be written to Model {namespace}/{name}: {exc}",
                file=sys.stderr,
                flush=True,
            )
            return await run(options)
        # Half the interval: the progress log line of the next tick never waits for the API server.
        reporter = ModelProgressReporter(
            client, name=name, namespace=namespace, budget_s=options.progress_interval_s / 2
        )
        return await run(options, on_progress=chained(log_progress, reporter))
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_options(argv, os.environ)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2); callers want a code, not an exit
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except FetchError as exc:
        print(f"fetch failed: {exc.reason}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result, code = anyio.run(run_reporting, options, backend="asyncio")
    except Exception as exc:
        traceback.print_exc()
        result = FetchResult(ok=False, message=f"internal error: {type(exc).__name__}: {exc}")
        code = EXIT_INTERNAL
    line = result_line(result)
    print(line, flush=True)
    if options.termination_log is not None:
        write_termination_message(options.termination_log, line)
    return code
