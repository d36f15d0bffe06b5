"""The Helm chart and the kustomize bases as sets of objects, and how two such sets differ.

deploy/helm/llmkube must render what config/default renders, so that whichever way a cluster is installed it
gets the same operator. Both are rendered here (`helm template`, `kubectl kustomize`), keyed by (apiVersion group,
kind, namespace, name), and compared object by object: `drift()` says which objects one side lacks and, for
objects both have, every field path whose value differs. Helm's release labels are set aside (`helm.sh/chart`,
`app.kubernetes.io/managed-by`, `app.kubernetes.io/instance`, `app.kubernetes.io/version`): they say which release
owns an object, which kustomize has no notion of. Nothing else is ignored.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from hack.tools import helm_binary

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "deploy" / "helm" / "llmkube"
KUBECTL = Path(sys.executable).parent / "kubectl"
RELEASE = "llmkube"
NAMESPACE = "llmkube-system"

HELM_LABELS = frozenset(
    {
        "helm.sh/chart",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/version",
    }
)

Object = dict[str, Any]


@attrs.frozen(order=True)
class ObjectKey:
    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Object) -> ObjectKey:
        group = obj["apiVersion"].rpartition("/")[0]
        meta = obj["metadata"]
        return cls(group=group, kind=obj["kind"], namespace=meta.get("namespace", ""), name=meta["name"])

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}{'.' + self.group if self.group else ''} {where}{self.name}"


def _documents(text: str) -> list[Object]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def helm_template(*args: str, namespace: str = NAMESPACE, include_crds: bool = True) -> list[Object]:
    """`helm template` of the chart as release `llmkube` in `namespace`; `args` are extra flags (--set ...)."""
    command = [str(helm_binary()), "template", RELEASE, str(CHART), "--namespace", namespace, *args]
    if include_crds:
        command.append("--include-crds")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ChartError(done.stderr.strip() or done.stdout.strip())
    return _documents(done.stdout)


def kustomize(*bases: str) -> list[Object]:
    """`kubectl kustomize` of each base, concatenated."""
    objects = []
    for base in bases:
        done = subprocess.run(
            [str(KUBECTL), "kustomize", str(REPO / base)], capture_output=True, text=True, check=True
        )
        objects += _documents(done.stdout)
    return objects


class ChartError(RuntimeError):
    """helm refused to render the chart (a `fail` in a template, a value the schema rejects)."""


def without_helm_labels(obj: Object) -> Object:
    stripped = copy.deepcopy(obj)
    labels = stripped["metadata"].get("labels")
    if labels is not None:
        for key in HELM_LABELS & set(labels):
            del labels[key]
        if not labels:
            del stripped["metadata"]["labels"]
    return stripped


def _paths(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf values by path (`spec.template.spec.containers[0].args[1]`); an empty dict or list is a leaf."""
    if isinstance(value, dict) and value:
        found: dict[str, Any] = {}
        for key, item in value.items():
            found.update(_paths(item, f"{prefix}.{key}" if prefix else str(key)))
        return found
    if isinstance(value, list) and value:
        found = {}
        for index, item in enumerate(value):
            found.update(_paths(item, f"{prefix}[{index}]"))
        return found
    return {prefix: value}


@attrs.frozen(kw_only=True)
class Drift:
    missing: list[ObjectKey]  # in the expected set only
    extra: list[ObjectKey]  # in the actual set only
    changed: dict[ObjectKey, list[str]]  # in both, with the paths whose values differ

    def __bool__(self) -> bool:
        return bool(self.missing or self.extra or self.changed)

    def explain(self, *, expected: str, actual: str, hints: dict[str, str] | None = None) -> str:
        lines = []
        for key in self.missing:
            hint = (hints or {}).get(key.name, "")
            lines.append(f"in {expected} but not in {actual}: {key}{' (' + hint + ')' if hint else ''}")
        lines += [f"in {actual} but not in {expected}: {key}" for key in self.extra]
        for key, paths in self.changed.items():
            lines.append(f"{key} differs at: " + "; ".join(paths))
        return "\n".join(lines)


def _describe(path: str, expected: dict[str, Any], actual: dict[str, Any]) -> str:
    if path not in actual:
        return f"{path} (only expected: {expected[path]!r:.80})"
    if path not in expected:
        return f"{path} (only actual: {actual[path]!r:.80})"
    want, have = expected[path], actual[path]
    if isinstance(want, str) and isinstance(have, str):
        # Long texts (a dashboard, a CRD description): show where they part.
        start = next(
            (i for i, (a, b) in enumerate(zip(want, have, strict=False)) if a != b), min(len(want), len(have))
        )
        start = max(0, start - 20)
        want, have = want[start : start + 60], have[start : start + 60]
    return f"{path} (expected {want!r:.80}, actual {have!r:.80})"


def drift(expected: Iterable[Object], actual: Iterable[Object]) -> Drift:
    """How `actual` differs from `expected`, object by object, with Helm's release labels set aside."""
    want = {ObjectKey.of(obj): without_helm_labels(obj) for obj in expected}
    have = {ObjectKey.of(obj): without_helm_labels(obj) for obj in actual}
    changed = {}
    for key in sorted(want.keys() & have.keys()):
        if want[key] == have[key]:
            continue
        expected_paths, actual_paths = _paths(want[key]), _paths(have[key])
        differing = sorted(
            path
            for path in expected_paths.keys() | actual_paths.keys()
            if expected_paths.get(path, _ABSENT) != actual_paths.get(path, _ABSENT)
        )
        changed[key] = [_describe(path, expected_paths, actual_paths) for path in differing]
    return Drift(
        missing=sorted(want.keys() - have.keys()), extra=sorted(have.keys() - want.keys()), changed=changed
    )


_ABSENT = object()


def container_args(objects: Sequence[Object], deployment: str) -> list[str]:
    """The first container's args of the named Deployment."""
    found = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == deployment)
    args: list[str] = found["spec"]["template"]["spec"]["containers"][0].get("args") or []
    return args
