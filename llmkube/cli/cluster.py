"""How cluster commands reach the API: kubeconfig, `--context` and `--namespace` resolved the way kubectl does,
and API failures turned into one-line errors that say what to do.

The namespace comes from `--namespace`, else the chosen context's `namespace`, else `default`. The kubeconfig
is read here only for that namespace (credentials are `controller.kube`'s job); `$KUBECONFIG` may list several
files, and as in kubectl the first file that defines a context wins.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import yaml

from controller.kube import (
    ConfigUnavailable,
    ConnectionFailed,
    Forbidden,
    Invalid,
    KubeClient,
    KubeError,
    NotFound,
    RequestTimeout,
    Timeouts,
    Unauthorized,
)
from llmkube.cli.errors import CliError

DEFAULT_NAMESPACE = "default"
INSTALL_HINT = "install LLMKube first: llmkube init"


@attrs.frozen(kw_only=True)
class ClusterTarget:
    """The cluster and namespace a command acts on; None fields fall back to the kubeconfig's choices."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False


@attrs.frozen(kw_only=True)
class Cluster:
    kube: KubeClient
    namespace: str
    #: None when listing across namespaces.
    scope: str | None


class ModelNotFound(CliError):
    """Neither an InferenceService nor a Model has the name the user gave."""


def _kubeconfig_files(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit).expanduser()]
    listed = os.environ.get("KUBECONFIG")
    if listed:
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def context_namespace(*, kubeconfig: str | None, context: str | None) -> str | None:
    """The namespace the chosen (or current) context names, if any."""
    documents: list[dict[str, Any]] = []
    for path in _kubeconfig_files(kubeconfig):
        with contextlib.suppress(OSError, ValueError, yaml.YAMLError):
            loaded = yaml.safe_load(path.read_text())
            if isinstance(loaded, dict):
                documents.append(loaded)
    wanted = context or next((d.get("current-context") for d in documents if d.get("current-context")), None)
    if not wanted:
        return None
    for document in documents:
        for entry in document.get("contexts") or ():
            if entry.get("name") == wanted:
                namespace = (entry.get("context") or {}).get("namespace")
                return str(namespace) if namespace else None
    return None


def _check_kubeconfig(target: ClusterTarget) -> None:
    """Fails with the path when no kubeconfig exists (inside a pod the service account is used instead)."""
    if (
        target.kubeconfig is None
        and not os.environ.get("KUBECONFIG")
        and os.environ.get("KUBERNETES_SERVICE_HOST")
    ):
        return
    files = _kubeconfig_files(target.kubeconfig)
    if not any(_is_file(path) for path in files):
        listed = ", ".join(str(p) for p in files)
        raise CliError(
            f"no kubeconfig at {listed}: point --kubeconfig or $KUBECONFIG at your cluster's kubeconfig"
        )


def _is_file(path: Path) -> bool:
    """False, not an exception, for a path the OS refuses to look up (too long, a NUL byte, no permission)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


@contextlib.asynccontextmanager
async def connect(target: ClusterTarget) -> AsyncIterator[Cluster]:
    """A client for the target cluster with short deadlines: an interactive command should fail in seconds."""
    _check_kubeconfig(target)
    namespace = target.namespace or context_namespace(kubeconfig=target.kubeconfig, context=target.context)
    with explained_errors():
        async with KubeClient.connect(
            kubeconfig=target.kubeconfig,
            context=target.context,
            timeouts=Timeouts(connect=5.0, request=20.0),
        ) as kube:
            namespace = namespace or DEFAULT_NAMESPACE
            yield Cluster(kube=kube, namespace=namespace, scope=None if target.all_namespaces else namespace)


def is_missing_kind(err: NotFound) -> bool:
    """A 404 for a whole resource type (CRD not installed) rather than for one object: the apiserver answers
    the former with a plain "404 page not found" and no object details."""
    return not err.details.get("kind") and not err.details.get("name")


@contextlib.contextmanager
def explained_errors() -> Iterator[None]:
    try:
        yield
    except ConfigUnavailable as err:
        raise CliError(
            f"{err.message}; point --kubeconfig or $KUBECONFIG at a cluster (or pick one with --context)"
        ) from None
    except (ConnectionFailed, RequestTimeout) as err:
        raise CliError(
            f"cannot reach the Kubernetes API ({err.message}); is the cluster running, and is this the right "
            "--context?"
        ) from None
    except Unauthorized:
        raise CliError("the cluster rejected our credentials (401): refresh your kubeconfig login") from None
    except Forbidden as err:
        raise CliError(f"not allowed: {err.message}") from None
    except NotFound as err:
        if is_missing_kind(err):
            raise CliError(f"the LLMKube CRDs are not installed in this cluster; {INSTALL_HINT}") from None
        raise CliError(err.message) from None
    except Invalid as err:
        raise CliError(f"the cluster rejected the object: {err.message}") from None
    except KubeError as err:
        raise CliError(err.message) from None
