"""The InferenceService kind: how to serve a Model as an OpenAI-compatible endpoint."""

from __future__ import annotations

from typing import ClassVar

import attrs

from api.fields import Rule, spec_field
from api.objects import Object
from api.v1alpha1.memory import MemoryStatus
from api.v1alpha1.meta import QUANTITY_PATTERN, Condition, ObjectMeta, SecretKeyRef, Toleration
from api.v1alpha1.model import API_VERSION

ACCELERATORS = ("cpu", "nvidia", "amd", "metal", "host")
#: Accelerators the host agent serves natively; the cluster gets no Deployment for them.
HOST_ACCELERATORS = ("metal", "host")
#: What the controller does with a service whose memory plan does not fit the GPUs it may land on.
FIT_POLICIES = ("Enforce", "Warn")
#: How long a scale-to-zero service may go without requests before the gateway scales it to 0.
DEFAULT_IDLE_SECONDS = 300
SERVICE_PHASES = (
    "Pending",
    "WaitingForModel",
    "Deploying",
    "WaitingForGPU",
    "Ready",
    "ScaledToZero",
    "Failed",
)

#: Flags the operator owns: letting extraArgs set them would point the server at the wrong file or port.
RESERVED_ARGS = ("--model", "-m", "--host", "--port")

_EXTRA_ARGS_RULE = Rule(
    rule="self.all(a, !(a in ['--model', '-m', '--host', '--port']) && !a.startsWith('--model=') "
    "&& !a.startsWith('--host=') && !a.startsWith('--port='))",
    message="extraArgs may not set --model, --host or --port: the operator sets them from modelRef and endpoint",
)


@attrs.frozen(kw_only=True)
class ModelRef:
    name: str = spec_field(description="Name of a Model in the same namespace.", min_length=1, max_length=253)


@attrs.frozen(kw_only=True)
class Accelerator:
    __rules__: ClassVar[tuple[Rule, ...]] = (
        Rule(
            rule="self.type != 'cpu' || !has(self.gpuCount) || self.gpuCount == 0",
            message="gpuCount needs a GPU accelerator: set type to nvidia, amd, metal or host",
            field_path=".gpuCount",
        ),
    )

    type: str = spec_field(
        default="cpu",
        description="cpu, nvidia, amd, metal or host. metal and host are served by the host agent outside "
        "the cluster.",
        enum=list(ACCELERATORS),
        schema_default="cpu",
    )
    gpu_count: int | None = spec_field(
        default=None,
        description="GPUs per pod; wins over Model.spec.gpuCount. More than one splits layers evenly.",
        minimum=0,
        maximum=8,
    )


@attrs.frozen(kw_only=True)
class Resources:
    cpu: str | None = spec_field(
        default=None, description="CPU request per pod, e.g. 2 or 500m.", pattern=QUANTITY_PATTERN
    )
    memory: str | None = spec_field(
        default=None, description="Memory request and limit per pod, e.g. 8Gi.", pattern=QUANTITY_PATTERN
    )


@attrs.frozen(kw_only=True)
class Endpoint:
    port: int = spec_field(
        default=8080,
        description="Port of the Service and the server.",
        minimum=1,
        maximum=65535,
        schema_default=8080,
    )
    type: str = spec_field(
        default="ClusterIP",
        description="Service type.",
        enum=["ClusterIP", "NodePort", "LoadBalancer"],
        schema_default="ClusterIP",
    )


@attrs.frozen(kw_only=True)
class Autoscaling:
    __rules__: ClassVar[tuple[Rule, ...]] = (
        Rule(
            rule="!has(self.minReplicas) || self.maxReplicas >= self.minReplicas",
            message="maxReplicas must be at least minReplicas",
            field_path=".maxReplicas",
        ),
    )

    min_replicas: int = spec_field(
        default=1, description="Fewest replicas the autoscaler keeps.", minimum=1, schema_default=1
    )
    max_replicas: int = spec_field(
        description="Most replicas the autoscaler creates.", minimum=1, maximum=1000
    )
    metric: str = spec_field(
        default="cpu",
        description="cpu (utilisation percent) or requestsDeferred (llama.cpp queued requests per pod).",
        enum=["cpu", "requestsDeferred"],
        schema_default="cpu",
    )
    target: int | None = spec_field(
        default=None,
        description="Target value: CPU percent (default 80) or deferred requests per pod (default 2).",
        minimum=1,
    )


@attrs.frozen(kw_only=True)
class ScaleToZero:
    """Opt-in idling at zero replicas; the gateway wakes the service on its first request and idles it again."""

    idle_seconds: int = spec_field(
        default=DEFAULT_IDLE_SECONDS,
        description="Seconds without requests through the gateway before the service is scaled to 0. It is never "
        "scaled down while a request is in flight or a replica is still loading.",
        minimum=1,
        maximum=604800,
        schema_default=DEFAULT_IDLE_SECONDS,
    )


@attrs.frozen(kw_only=True)
class Monitoring:
    enabled: bool = spec_field(
        default=False,
        description="Create ServiceMonitors for llama.cpp metrics (and DCGM for GPU services).",
        schema_default=False,
    )


@attrs.frozen(kw_only=True)
class InferenceServiceSpec:
    __rules__: ClassVar[tuple[Rule, ...]] = (
        Rule(
            rule="!has(self.autoscaling) || self.autoscaling.metric != 'cpu' "
            "|| (has(self.resources) && has(self.resources.cpu))",
            message="autoscaling on cpu needs resources.cpu: utilisation is measured against the CPU request",
            field_path=".autoscaling",
        ),
        Rule(
            rule="!has(self.scaleToZero) || !has(self.autoscaling)",
            message="scaleToZero and autoscaling exclude each other: the autoscaler scales the Deployment and "
            "never sees the InferenceService at 0; remove one of them",
            field_path=".scaleToZero",
        ),
    )

    model_ref: ModelRef = spec_field(description="The Model to serve.")
    replicas: int = spec_field(
        default=1, description="Serving pods; 0 scales to zero.", minimum=0, maximum=1000, schema_default=1
    )
    image: str | None = spec_field(
        default=None,
        description="llama.cpp server image; defaults by accelerator (CUDA for nvidia, ROCm for amd).",
    )
    accelerator: Accelerator = spec_field(
        factory=Accelerator, description="What runs the model.", schema_default={}
    )
    resources: Resources | None = spec_field(default=None, description="CPU and memory per pod.")
    context_size: int | None = spec_field(
        default=None,
        description="Total KV-cache context (--ctx-size), shared by all slots; defaults to 4096 per slot.",
        minimum=128,
        maximum=1048576,
    )
    parallel_slots: int | None = spec_field(
        default=None,
        description="Concurrent request slots (--parallel); the throughput knob.",
        minimum=1,
        maximum=256,
    )
    extra_args: list[str] | None = spec_field(
        default=None,
        description="Extra llama-server flags. May not set --model, --host or --port.",
        max_items=64,
        item_max_length=1024,
        rules=[_EXTRA_ARGS_RULE],
    )
    endpoint: Endpoint = spec_field(
        factory=Endpoint, description="How the service is exposed.", schema_default={}
    )
    api_key_secret_ref: SecretKeyRef | None = spec_field(
        default=None,
        description="Secret key holding the API key clients must send (Authorization: Bearer KEY); the server "
        "reads it from a mounted file (--api-key-file), never from its arguments. Restart the service after "
        "changing the key.",
    )
    autoscaling: Autoscaling | None = spec_field(
        default=None, description="Horizontal autoscaling; replicas is then managed by the autoscaler."
    )
    scale_to_zero: ScaleToZero | None = spec_field(
        default=None,
        description="Idle at 0 replicas when unused: the gateway (llmkube-gateway) holds the first request while "
        "it scales the service to 1, and scales it back to 0 after idleSeconds without requests.",
    )
    monitoring: Monitoring | None = spec_field(default=None, description="Prometheus Operator scraping.")
    tolerations: list[Toleration] | None = spec_field(
        default=None, description="Tolerations for the pods, merged with the GPU toleration for GPU services."
    )
    node_selector: dict[str, str] | None = spec_field(
        default=None, description="Node labels the pods require."
    )
    #: JSON the operator passes through untouched.
    affinity: Object | None = spec_field(default=None, description="core/v1 Affinity for the pods.")
    priority_class_name: str | None = spec_field(default=None, description="PriorityClass of the pods.")
    fit_policy: str = spec_field(
        default="Enforce",
        description="Enforce: a service whose memory plan fits no GPU it may land on gets no Deployment "
        "(the Fits condition says why). Warn: it is deployed anyway and Fits stays False.",
        enum=list(FIT_POLICIES),
        schema_default="Enforce",
    )


@attrs.frozen(kw_only=True)
class InferenceServiceStatus:
    phase: str | None = spec_field(
        default=None,
        description="Pending, WaitingForModel, Deploying, WaitingForGPU, Ready, ScaledToZero or Failed.",
        enum=list(SERVICE_PHASES),
    )
    conditions: list[Condition] | None = spec_field(
        default=None,
        description="Ready, ModelReady, Fits, Progressing and Degraded, each with a reason that says why.",
        list_map_keys=["type"],
    )
    observed_generation: int | None = spec_field(
        default=None, description="The .metadata.generation described."
    )
    replicas: int | None = spec_field(
        default=None, description="Pods the Deployment runs (for kubectl scale)."
    )
    ready_replicas: int | None = spec_field(default=None, description="Pods that pass their readiness probe.")
    selector: str | None = spec_field(
        default=None, description="Label selector of the pods (for kubectl scale)."
    )
    endpoint: str | None = spec_field(default=None, description="OpenAI-compatible base URL.")
    gpu_count: int | None = spec_field(default=None, description="GPUs per pod in effect.")
    tensor_split: str | None = spec_field(
        default=None, description="--tensor-split in effect for multi-GPU pods."
    )
    scheduling: str | None = spec_field(
        default=None, description="Why pods are not placed, from the scheduler."
    )
    memory: MemoryStatus | None = spec_field(
        default=None, description="Planned memory, and what llama-server allocated where it is known."
    )


@attrs.frozen(kw_only=True)
class InferenceService:
    """A served Model: Deployment, Service, optional HPA and ServiceMonitors, and honest status."""

    KIND: ClassVar[str] = "InferenceService"
    PLURAL: ClassVar[str] = "inferenceservices"

    api_version: str = API_VERSION
    kind: str = "InferenceService"
    metadata: ObjectMeta = attrs.Factory(ObjectMeta)
    spec: InferenceServiceSpec
    status: InferenceServiceStatus | None = None
