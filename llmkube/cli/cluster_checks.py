"""What `llmkube init` looks at before and after installing: pure judgements of API objects, one per question.

Each check turns what the API returned into a `Finding`: ok, a warning (LLMKube works, with a limit the user
should know) or a problem (something to fix before models can be served), and for the last two the fix. Reading
the cluster is the caller's job; these functions only judge, so every branch has a plain unit test.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from api.objects import annotations_of, conditions_of, labels_of, name_of, status_of
from llmkube.bundle import CONTROLLER_DEPLOYMENT, CONTROLLER_NAMESPACE

Object = Mapping[str, Any]

MINIMUM_MINOR = 29  # Kubernetes 1.29: the oldest release with the CEL validation rules the CRDs use
LLMKUBE_CRDS = ("models.inference.llmkube.dev", "inferenceservices.inference.llmkube.dev")
PROMETHEUS_CRDS = ("servicemonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com")
GPU_RESOURCES = {"nvidia.com/gpu": "NVIDIA", "amd.com/gpu": "AMD"}
#: Labels GPU feature discovery puts on GPU nodes; the model and memory tell which models fit.
GPU_PRODUCT_LABELS = ("nvidia.com/gpu.product", "amd.com/gpu.product-name")
GPU_MEMORY_LABEL = "nvidia.com/gpu.memory"
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


class Level(enum.StrEnum):
    ok = "ok"
    warning = "warning"
    problem = "problem"


@attrs.frozen(kw_only=True)
class Finding:
    check: str
    level: Level
    message: str
    fix: str = ""


def api_version(version: Mapping[str, Any]) -> Finding:
    """From the apiserver's /version document."""
    git_version = str(version.get("gitVersion", "?"))
    minor_text = "".join(ch for ch in str(version.get("minor", "")) if ch.isdigit())
    if str(version.get("major")) == "1" and minor_text and int(minor_text) < MINIMUM_MINOR:
        return Finding(
            check="Kubernetes API",
            level=Level.problem,
            message=f"reachable, version {git_version}",
            fix=f"upgrade the cluster to Kubernetes 1.{MINIMUM_MINOR} or later",
        )
    return Finding(check="Kubernetes API", level=Level.ok, message=f"reachable, version {git_version}")


def _established(crd: Object) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions_of(crd))


def llmkube_crds(crds: Iterable[Object]) -> Finding:
    by_name = {name_of(crd): crd for crd in crds}
    missing = [name for name in LLMKUBE_CRDS if name not in by_name]
    if missing:
        return Finding(
            check="LLMKube CRDs",
            level=Level.problem,
            message=f"not installed: {', '.join(missing)}",
            fix="llmkube init installs them",
        )
    pending = [name for name in LLMKUBE_CRDS if not _established(by_name[name])]
    if pending:
        return Finding(
            check="LLMKube CRDs", level=Level.warning, message=f"not yet served: {', '.join(pending)}"
        )
    return Finding(check="LLMKube CRDs", level=Level.ok, message="Model and InferenceService are served")


def deployment_ready(deployment: Object) -> bool:
    """Rolled out: the newest generation observed, and every desired replica updated and available."""
    spec, status = deployment.get("spec") or {}, status_of(deployment)
    desired = int(spec.get("replicas", 1))
    generation = int((deployment.get("metadata") or {}).get("generation", 0))
    return (
        int(status.get("observedGeneration", 0)) >= generation
        and int(status.get("updatedReplicas", 0)) >= desired
        and int(status.get("availableReplicas", 0)) >= desired
    )


def controller(deployment: Object | None, *, installed_image: str | None = None) -> Finding:
    where = f"{CONTROLLER_NAMESPACE}/{CONTROLLER_DEPLOYMENT}"
    if deployment is None:
        return Finding(
            check="Controller",
            level=Level.problem,
            message=f"not installed (no Deployment {where})",
            fix="llmkube init installs it",
        )
    image = deployment["spec"]["template"]["spec"]["containers"][0].get("image", "?")
    if not deployment_ready(deployment):
        return Finding(
            check="Controller",
            level=Level.problem,
            message=f"{where} ({image}) is not Ready",
            fix=f"kubectl -n {CONTROLLER_NAMESPACE} describe pods -l app.kubernetes.io/name=llmkube",
        )
    if installed_image is not None and image != installed_image:
        return Finding(
            check="Controller",
            level=Level.warning,
            message=f"running {image}; this CLI ships {installed_image}",
            fix="llmkube init upgrades it",
        )
    return Finding(check="Controller", level=Level.ok, message=f"{where} is Ready ({image})")


def _gpus(node: Object) -> dict[str, int]:
    allocatable = status_of(node).get("allocatable") or {}
    found = {}
    for resource in GPU_RESOURCES:
        text = str(allocatable.get(resource, "0"))
        if text.isdigit() and int(text) > 0:
            found[resource] = int(text)
    return found


def _describe_gpu_node(node: Object, gpus: Mapping[str, int]) -> str:
    node_labels = labels_of(node)
    product = next((node_labels[label] for label in GPU_PRODUCT_LABELS if label in node_labels), None)
    memory = node_labels.get(GPU_MEMORY_LABEL)
    count = ", ".join(f"{n} x {GPU_RESOURCES[resource]}" for resource, n in gpus.items())
    details = ", ".join(
        part
        for part in (product, f"{int(memory) // 1024} GiB each" if memory and memory.isdigit() else "")
        if part
    )
    return f"{name_of(node)} ({count}{', ' + details if details else ''})"


def gpu_nodes(nodes: Iterable[Object]) -> Finding:
    with_gpus = [(node, _gpus(node)) for node in nodes]
    gpu_nodes_ = [(node, gpus) for node, gpus in with_gpus if gpus]
    if not gpu_nodes_:
        return Finding(
            check="GPU nodes",
            level=Level.warning,
            message="none advertise nvidia.com/gpu or amd.com/gpu: models will serve from CPU only",
            fix="for GPUs install the NVIDIA (or AMD) device plugin on the GPU nodes",
        )
    unlabelled = [
        name_of(node) for node, _ in gpu_nodes_ if not set(GPU_PRODUCT_LABELS) & set(labels_of(node))
    ]
    described = "; ".join(_describe_gpu_node(node, gpus) for node, gpus in gpu_nodes_)
    if unlabelled:
        return Finding(
            check="GPU nodes",
            level=Level.warning,
            message=f"{described}; no GPU model label on {', '.join(unlabelled)}",
            fix="install GPU feature discovery (part of the NVIDIA GPU operator) to label GPU model and memory",
        )
    return Finding(check="GPU nodes", level=Level.ok, message=described)


def default_storage_class(classes: Iterable[Object]) -> Finding:
    defaults = [
        name_of(c)
        for c in classes
        if any(annotations_of(c).get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS)
    ]
    if not defaults:
        return Finding(
            check="Default StorageClass",
            level=Level.warning,
            message="none: model caches need Model.spec.cache.storageClassName or pre-made PersistentVolumes",
            fix="mark one StorageClass default (annotation storageclass.kubernetes.io/is-default-class=true)",
        )
    return Finding(check="Default StorageClass", level=Level.ok, message=", ".join(defaults))


def prometheus_operator(crds: Iterable[Object]) -> Finding:
    present = {name_of(crd) for crd in crds}
    if not set(PROMETHEUS_CRDS) <= present:
        return Finding(
            check="Prometheus Operator",
            level=Level.warning,
            message="CRDs not found: metrics are served but nothing is set up to scrape them",
            fix="optional: install the Prometheus Operator, then kubectl apply -k config/prometheus",
        )
    return Finding(
        check="Prometheus Operator",
        level=Level.ok,
        message="CRDs present",
        fix="to scrape LLMKube: kubectl apply -k config/prometheus",
    )
