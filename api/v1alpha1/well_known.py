"""The names the parts of LLMKube agree on: labels, annotations, condition types and field managers.

The controller, the host agent, the fetcher in download Jobs and the CLI each read what another one wrote: the
agent publishes a Service the controller must leave alone, the CLI dials the address the agent annotated, the
controller derives a phase from the condition the agent sets. A name here is therefore a contract between
programs that may run different versions, and renaming one strands objects already in clusters. Every part
imports them from this module, so two copies can never drift apart.

Everything else in the `inference.llmkube.dev/` namespace of labels and annotations is listed here too, so a
user who finds one on an object can look it up in one place.
"""

from __future__ import annotations

# -- the recommended labels (app.kubernetes.io), on every object the operator creates ---------------------------

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
COMPONENT_LABEL = "app.kubernetes.io/component"

#: `app.kubernetes.io/name` of everything LLMKube creates.
APP_NAME = "llmkube"

#: `app.kubernetes.io/component` values.
COMPONENT_SERVER = "inference-server"
COMPONENT_FETCH = "model-fetch"
COMPONENT_CACHE = "model-cache"
COMPONENT_MONITORING = "monitoring"
COMPONENT_GPU_MONITORING = "gpu-monitoring"
#: The InferencePool published for a service where the Gateway API Inference Extension is installed.
COMPONENT_INFERENCE_POOL = "inference-pool"
#: The gateway's Deployment and Service (config/gateway), which `llmkube chat --gateway cluster` looks for.
COMPONENT_GATEWAY = "gateway"

# -- who writes what: field managers, also the `managed-by` value of the objects each one creates ---------------

#: The controller: field manager of everything it applies, and `managed-by` of the objects it creates.
MANAGER = "llmkube"
#: The host agent: field manager of its HostServing condition, Services and EndpointSlices, and their
#: `managed-by`, which is how the controller tells the agent's selector-less Service from its own.
AGENT_MANAGER = "llmkube-agent"
#: The fetcher in a download Job: field manager of `Model.status.progress`.
FETCHER_MANAGER = "llmkube-fetch"
#: Holds a Deployment's `spec.replicas` between the controller letting go of it and the HPA taking it over.
REPLICAS_HANDOFF_MANAGER = "llmkube-replicas-handoff"
#: The CLI: field manager of the Models and InferenceServices `llmkube deploy` applies.
CLI_MANAGER = "llmkube-cli"
#: The gateway: field manager of its scale writes and of the last-request annotation.
GATEWAY_MANAGER = "llmkube-gateway"

# -- labels in the API group ------------------------------------------------------------------------------------

#: The Model an object serves or fetches (a label value: cut and hashed past 63 characters).
MODEL_LABEL = "inference.llmkube.dev/model"
#: The InferenceService a serving pod, Service or monitor belongs to (a label value, like MODEL_LABEL).
SERVICE_LABEL = "inference.llmkube.dev/service"
#: The cache directory a download Job fills.
CACHE_KEY_LABEL = "inference.llmkube.dev/cache-key"
#: A hash of everything a download Job is told; a Job with another intent was made for an earlier spec.
FETCH_INTENT_LABEL = "inference.llmkube.dev/fetch-intent"
#: The owner of a DCGM ServiceMonitor, which lives in another namespace and so has no owner reference.
OWNER_NAMESPACE_LABEL = "inference.llmkube.dev/owner-namespace"
OWNER_NAME_LABEL = "inference.llmkube.dev/owner-name"
#: The catalog entry `llmkube deploy` made a Model or InferenceService from.
CATALOG_LABEL = "inference.llmkube.dev/catalog-id"

# -- annotations in the API group -------------------------------------------------------------------------------

#: The hash of the body the controller last applied to an object; equal hashes mean nothing to write.
APPLIED_HASH_ANNOTATION = "inference.llmkube.dev/applied-hash"
#: Which attempt a download Job is, so retry backoff survives controller restarts.
FETCH_ATTEMPT_ANNOTATION = "inference.llmkube.dev/fetch-attempt"
#: `<namespace>/<name>` of a DCGM monitor's InferenceService, exact where the owner labels are cut and hashed.
OWNER_ANNOTATION = "inference.llmkube.dev/owner"
#: The host whose agent serves an InferenceService, on the agent's Service and EndpointSlice.
HOST_ANNOTATION = "inference.llmkube.dev/host"
#: The exact address to dial on the agent's EndpointSlice, which may be loopback where the slice itself must
#: name something else; `llmkube chat` prefers it.
ADDRESS_ANNOTATION = "inference.llmkube.dev/address"
#: When a gateway replica last saw a request for an InferenceService (RFC 3339 with milliseconds); every
#: replica reads it before scaling the service to zero, so traffic seen by one keeps the others from it.
LAST_REQUEST_ANNOTATION = "inference.llmkube.dev/last-request-time"

# -- field paths ------------------------------------------------------------------------------------------------

#: The field through which an InferenceService names its Model; the controller and the host agent both index
#: services by it (namespaced, `<namespace>/<model name>`), so a Model's change wakes the services using it.
MODEL_REF_FIELD = "spec.modelRef.name"

# -- condition types --------------------------------------------------------------------------------------------

#: Both kinds: ready to use, with a reason that says why not.
READY = "Ready"
#: Both kinds: work under way (a download, a rollout).
PROGRESSING = "Progressing"
#: Both kinds: something needs attention.
DEGRADED = "Degraded"
#: InferenceService: the state of its Model.
MODEL_READY = "ModelReady"
#: InferenceService: whether its ServiceMonitors are in place, or why not.
MONITORING = "Monitoring"
#: InferenceService: whether the memory plan fits the GPUs (or host) the pods may land on, and why not.
FITS = "Fits"
#: InferenceService: the host agent's report on a metal/host service; the agent alone writes it.
HOST_SERVING = "HostServing"

#: The reason of a False Degraded condition.
AS_EXPECTED = "AsExpected"
