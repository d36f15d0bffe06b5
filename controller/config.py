"""Operator-wide settings: where the model cache lives, which images do the work, how the controllers run.

`ControllerConfig` is one frozen value built once by the manager from flags and environment, then handed to every
builder; `ControllerOptions` wraps it with what every controller's setup takes, so both controllers are set up
from the same value and a default lives here once (the flag parser reads its defaults from here too). Defaults
make `kubectl apply -k config/default` work on a plain cluster: a 100Gi ReadWriteOnce claim per namespace on the
default StorageClass, llama.cpp server images pinned to one build (b11434, the build whose flags and metrics the
builders were checked against), and the DCGM exporter where the NVIDIA GPU operator installs it.
"""

from __future__ import annotations

import attrs

from api.v1alpha1.well_known import MANAGER

#: The llama.cpp build every default image is pinned to; `llama_args` only uses flags this build accepts.
LLAMA_CPP_BUILD = "b11434"

#: How the controller names itself to the API server: the program in its requests' User-Agent (what audit logs
#: and `apiserver_request_total` show) and the source of its Events.
CONTROLLER_PROGRAM = "llmkube-controller"

#: The controller's own image; download Jobs run `llmkube fetch` from it (the manager passes the image it runs).
DEFAULT_CONTROLLER_IMAGE = "ghcr.io/llmkube/llmkube:0.1.0"

#: Workers per controller. Reconciles mostly wait on the API server, so several run at once; one key never runs
#: on two workers. Chosen by `hack/bench/isvc_scale.py burst` (docs/benchmarks.md): with 200 new services, 32
#: workers put the last Deployment out sooner than 16 (p99 0.78 s against 1.23 s), and 64 no sooner than 32.
DEFAULT_MAX_CONCURRENT_RECONCILES = 32


@attrs.frozen(kw_only=True)
class LlamaServerImages:
    """llama.cpp server images by accelerator; `InferenceService.spec.image` overrides them."""

    cpu: str = f"ghcr.io/ggml-org/llama.cpp:server-{LLAMA_CPP_BUILD}"
    nvidia: str = f"ghcr.io/ggml-org/llama.cpp:server-cuda-{LLAMA_CPP_BUILD}"
    amd: str = f"ghcr.io/ggml-org/llama.cpp:server-rocm-{LLAMA_CPP_BUILD}"

    def for_accelerator(self, accelerator: str) -> str:
        if accelerator == "nvidia":
            return self.nvidia
        if accelerator == "amd":
            return self.amd
        return self.cpu


def _default_dcgm_selector() -> dict[str, str]:
    return {"app": "nvidia-dcgm-exporter"}


@attrs.frozen(kw_only=True)
class ControllerConfig:
    # --- the per-namespace model cache claim (shared by every Model and InferenceService in a namespace)
    model_cache_pvc_name: str = "llmkube-model-cache"
    model_cache_size: str = "100Gi"
    model_cache_storage_class: str | None = None
    model_cache_access_mode: str = "ReadWriteOnce"
    #: Where the claim is mounted in fetch Jobs and serving pods; `Model.status.path` is under it.
    model_cache_mount_path: str = "/models"

    # --- download Jobs
    fetcher_image: str = DEFAULT_CONTROLLER_IMAGE
    #: Upper bound for one download attempt; a 70B Q4 file is ~40 GiB, i.e. over an hour on a slow link.
    fetch_deadline_seconds: int = 6 * 3600
    #: Identity of download pods; the reconciler grants it patch on models/status in each namespace it uses.
    fetch_service_account: str = "llmkube-fetch"
    #: Nodes download pods may run on (e.g. those with a fast uplink); empty means any node.
    fetch_node_selector: dict[str, str] = attrs.Factory(dict)
    #: A failed download is retried after this delay, doubling per consecutive failure up to the maximum.
    fetch_retry_initial_seconds: float = 30.0
    fetch_retry_max_seconds: float = 600.0

    # --- serving
    llama_server_images: LlamaServerImages = attrs.Factory(LlamaServerImages)
    #: Memory of one GPU by product (`nvidia.com/gpu.product` value -> bytes), winning over node labels and the
    #: built-in table (controller.builders.gpu_memory); from `--gpu-memory PRODUCT=QUANTITY`.
    gpu_memory_overrides: dict[str, int] = attrs.Factory(dict)
    #: Pods metric the HPA reads for `metric: requestsDeferred`, as the custom-metrics adapter exposes it.
    requests_deferred_metric: str = "llamacpp:requests_deferred"

    # --- DCGM exporter (GPU metrics), scraped per GPU service when monitoring is enabled
    dcgm_namespace: str = "gpu-operator"
    dcgm_selector: dict[str, str] = attrs.Factory(_default_dcgm_selector)
    #: Name of the exporter Service's metrics port (the GPU operator calls it gpu-metrics).
    dcgm_port: str = "gpu-metrics"

    #: Server-side apply field manager for everything the controller writes.
    field_manager: str = MANAGER


@attrs.frozen(kw_only=True)
class ControllerOptions:
    """What `setup_model_controller` and `setup_inferenceservice_controller` both take."""

    config: ControllerConfig = attrs.Factory(ControllerConfig)
    #: Watch only this namespace; None watches all of them.
    namespace: str | None = None
    max_concurrent_reconciles: int = DEFAULT_MAX_CONCURRENT_RECONCILES
