"""HuggingFace Hub files, resolved with huggingface_hub and streamed by our own downloader.

huggingface_hub answers the Hub-specific questions (which commit `main` is now, whether the repo is gated, what
the error codes mean); the bytes then come through `HttpSource`, so Hub and URL downloads share one path that
hashes while streaming into our cache layout and resumes with validated Range requests (`hf_hub_download` writes
its own cache layout and would need a second pass to hash). The download URL is pinned to the resolved commit, so
a push to the branch during a long download cannot splice two revisions into one file.
"""

from __future__ import annotations

import anyio.to_thread
import attrs
from huggingface_hub import get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RevisionNotFoundError,
)

from llmkube.fetch.errors import SourceNotFound, TransientError, Unauthorized
from llmkube.fetch.http_source import RETRYABLE_STATUS, HttpSource, Timeouts
from llmkube.fetch.retry import Backoff, Sleep, with_retries
from llmkube.fetch.source import Fetched, Sink

DEFAULT_ENDPOINT = "https://huggingface.co"


def hf_identity(*, repo: str, filename: str, revision: str) -> str:
    return f"hf://{repo}/{filename}@{revision}"


@attrs.frozen(kw_only=True)
class HuggingFaceSource:
    repo: str
    filename: str
    revision: str = "main"
    endpoint: str = DEFAULT_ENDPOINT
    #: Never logged or put in a message; None means anonymous (the token file on disk is not consulted).
    token: str | None = attrs.field(default=None, repr=False)
    timeouts: Timeouts = Timeouts()
    backoff: Backoff = Backoff()
    sleep: Sleep = anyio.sleep

    @property
    def identity(self) -> str:
        return hf_identity(repo=self.repo, filename=self.filename, revision=self.revision)

    async def fetch_into(self, sink: Sink) -> Fetched:
        commit = await with_retries(
            self._resolve_commit, backoff=self.backoff, sleep=self.sleep, what=f"resolving {self.identity}"
        )
        download = HttpSource(
            url=hf_hub_url(
                self.repo, self.filename, revision=commit or self.revision, endpoint=self.endpoint
            ),
            identity=self.identity,
            headers={"Authorization": f"Bearer {self.token}"} if self.token else {},
            timeouts=self.timeouts,
            backoff=self.backoff,
            sleep=self.sleep,
            not_found_hint="check repo and filename",
            resolved_revision=commit,
        )
        return await download.fetch_into(sink)

    async def _resolve_commit(self) -> str | None:
        url = hf_hub_url(self.repo, self.filename, revision=self.revision, endpoint=self.endpoint)
        try:
            metadata = await anyio.to_thread.run_sync(
                lambda: get_hf_file_metadata(
                    url, token=self.token or False, timeout=self.timeouts.idle_read_s, endpoint=self.endpoint
                )
            )
        except HfHubHTTPError as exc:
            raise self._classify(exc) from exc
        except Exception as exc:  # transport errors of whatever HTTP client huggingface_hub uses today
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        commit: str | None = metadata.commit_hash
        return commit

    def _classify(self, exc: HfHubHTTPError) -> Exception:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", 0) or 0
        where = f"source {self.identity} returned {status}"
        if isinstance(exc, GatedRepoError):
            return Unauthorized(
                f"{where}: repository {self.repo} is gated: accept its license on the Hub with the token's account "
                "and set source.huggingFace.tokenSecretRef"
            )
        if isinstance(exc, RevisionNotFoundError):
            return SourceNotFound(
                f"{where}: revision {self.revision!r} does not exist in {self.repo}: check revision"
            )
        if isinstance(exc, RemoteEntryNotFoundError) or status == 404:
            return SourceNotFound(f"{where}: check repo and filename")
        if status in (401, 403):
            return Unauthorized(
                f"{where}: repository {self.repo} does not exist or is private: check repo, or set "
                "source.huggingFace.tokenSecretRef to a Secret with a token that can read it"
            )
        if status in RETRYABLE_STATUS or status >= 500 or status == 0:
            return TransientError(where)
        return SourceNotFound(f"{where}: check repo, filename and revision")
