"""Getting a Model's file into the agent's cache, with the same fetcher (and so the same layout and checks) the
cluster's download Job runs.

The fetcher runs in-process through its public `parse_options` / `run` pair: the arguments are the ones the Job
would get, so the cache key, the recorded source identity and the sha256 verification cannot drift between a pod
and a host, and a file already in the cache is reused without downloading. The HuggingFace token travels in the
environment mapping handed to the fetcher, never in arguments.

A `pvc` source names a cluster volume this host cannot read, so it is refused with the fix rather than retried.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs

from api.v1alpha1.fetch_result import FetchResult
from api.v1alpha1.model import Model
from controller.builders.fetch_job import model_cache_key
from llmkube.fetch.cli import parse_options, run
from llmkube.fetch.errors import FetchError
from llmkube.fetch.progress import Progress

#: The reason a fetch that can never work on a host gets; not retried until the Model changes.
UNSUPPORTED_SOURCE = "UnsupportedSource"

ProgressHook = Callable[[Progress], Awaitable[None]]


@attrs.frozen(kw_only=True)
class TokenRef:
    namespace: str
    name: str
    key: str


@attrs.frozen(kw_only=True)
class FetchPlan:
    """What to fetch for one Model, decided from its spec alone (so it can be compared across reconciles)."""

    cache_key: str
    argv: tuple[str, ...]
    token: TokenRef | None = None
    #: Set when the source cannot be fetched on a host; then `argv` is empty.
    unsupported: str | None = None

    def model_path(self, cache_dir: Path) -> Path:
        return cache_dir / self.cache_key / "model.gguf"


def fetch_plan(model: Model, *, cache_dir: Path) -> FetchPlan:
    source = model.spec.source
    cache_key = model_cache_key(model)
    name = model.metadata.name or "?"
    if source.hugging_face is not None:
        hf = source.hugging_face
        args = ["--hf-repo", hf.repo, "--hf-file", hf.filename, "--revision", hf.revision]
        token = None
        if hf.token_secret_ref is not None:
            token = TokenRef(
                namespace=model.metadata.namespace or "",
                name=hf.token_secret_ref.name,
                key=hf.token_secret_ref.key,
            )
    elif source.url is not None:
        args, token = ["--url", source.url], None
    else:
        return FetchPlan(
            cache_key=cache_key,
            argv=(),
            unsupported=f"Model '{name}' reads its file from a PersistentVolumeClaim, which a host outside the "
            "cluster cannot mount: give the Model a url or huggingFace source to serve it with the host agent",
        )
    args += ["--source-identity", source.identity(), "--cache-dir", str(cache_dir), "--cache-key", cache_key]
    if model.spec.sha256:
        args += ["--sha256", model.spec.sha256]
    return FetchPlan(cache_key=cache_key, argv=tuple(args), token=token)


async def fetch_model(plan: FetchPlan, *, token: str | None, on_progress: ProgressHook) -> FetchResult:
    """The fetch's result; failures come back as `ok=False` with the fetcher's reason, never raised."""
    if plan.unsupported is not None:
        return FetchResult(
            ok=False, reason=UNSUPPORTED_SOURCE, message=plan.unsupported, cache_key=plan.cache_key
        )
    env = {"HF_TOKEN": token} if token else {}
    if os.environ.get("HF_ENDPOINT"):
        env["HF_ENDPOINT"] = os.environ["HF_ENDPOINT"]
    try:
        options = parse_options(list(plan.argv), env)
    except FetchError as exc:
        return FetchResult(ok=False, reason=exc.reason, message=exc.message, cache_key=plan.cache_key)
    except SystemExit:
        return FetchResult(
            ok=False,
            reason="InvalidSource",
            message=f"the fetcher rejected the arguments {list(plan.argv)}: check the Model's source",
            cache_key=plan.cache_key,
        )
    result, _code = await run(options, on_progress=on_progress)
    return result
