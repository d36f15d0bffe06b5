"""Which services this agent serves, and what a service asks of its server (pure functions of the objects).

A plan's fingerprint is everything that shapes the running process: the fetch (source, digest, cache key) and
the llama-server arguments as the shared builder computes them (with placeholders for the path and the port,
which are only known once fetched and allocated). A change to replicas, tolerations or labels leaves it alone,
so only a change that matters restarts a server.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from api.v1alpha1.gguf import GGUFInfo
from api.v1alpha1.inferenceservice import InferenceService
from api.v1alpha1.model import Model
from controller.builders.labels import object_name
from controller.builders.llama_args import ReservedArgumentError, llama_server_args
from llmkube.agent.model_fetch import fetch_plan
from llmkube.agent.options import AgentOptions
from llmkube.agent.supervisor import ArgumentsFor, ServerPlan

HOSTNAME_LABEL = "kubernetes.io/hostname"
_PATH_PLACEHOLDER = "<model>"


def accelerator_of(isvc: Mapping[str, Any]) -> str:
    return str(((isvc.get("spec") or {}).get("accelerator") or {}).get("type") or "cpu")


def is_ours(isvc: Mapping[str, Any], options: AgentOptions) -> bool:
    """Served by this agent: a host accelerator it serves, and no node selector naming another host."""
    if accelerator_of(isvc) not in options.accelerators:
        return False
    wanted_host = ((isvc.get("spec") or {}).get("nodeSelector") or {}).get(HOSTNAME_LABEL)
    return wanted_host is None or options.host_name is None or wanted_host == options.host_name


def server_arguments(isvc: InferenceService, model: Model, *, bind_address: str) -> ArgumentsFor:
    def arguments(model_path: str, gguf: GGUFInfo | None, port: int) -> list[str]:
        return llama_server_args(
            alias=object_name(isvc),
            spec=isvc.spec,
            model=model.spec,
            model_path=model_path,
            gguf=gguf,
            host=bind_address,
            port=port,
        )

    return arguments


def server_plan(isvc: InferenceService, model: Model, *, options: AgentOptions) -> ServerPlan:
    fetch = fetch_plan(model, cache_dir=options.cache_dir)
    arguments = server_arguments(isvc, model, bind_address=options.effective_bind_address)
    try:
        shape: list[str] | str = arguments(_PATH_PLACEHOLDER, None, 0)
    except ReservedArgumentError as exc:
        shape = f"invalid: {exc}"  # the supervisor reports it; a fixed spec changes the fingerprint
    identity = {
        "fetch": list(fetch.argv),
        "unsupported": fetch.unsupported,
        "token": str(fetch.token),
        "args": shape,
    }
    fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return ServerPlan(fingerprint=fingerprint, fetch=fetch, arguments=arguments)


def local_url(address: str, port: int | None) -> str | None:
    if port is None:
        return None
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/v1"
