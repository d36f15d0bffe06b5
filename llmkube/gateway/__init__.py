"""The gateway: one OpenAI-compatible endpoint for every InferenceService.

It routes by the request's `model` to the InferenceService of that name, balances over the ready replicas its
EndpointSlices list, queues and sheds load per service, and wakes services that scale to zero.
`main(argv)` is the `llmkube-gateway` program; `run_gateway(options)` runs it in-process (tests, benchmarks).
"""

from llmkube.gateway.command import RunningGateway, main, run_gateway
from llmkube.gateway.options import GatewayOptions, parse_options

__all__ = ["GatewayOptions", "RunningGateway", "main", "parse_options", "run_gateway"]
