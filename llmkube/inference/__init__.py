"""OpenAI-compatible chat completions over aiohttp, with streaming and llama.cpp timings."""

from llmkube.inference.client import ChatClient, normalize_base_url, open_chat_client
from llmkube.inference.errors import EndpointUnreachable, InferenceError, RequestTimedOut, ServerError
from llmkube.inference.sse import SseDecoder, SseEvent
from llmkube.inference.types import ChatMessage, ChatRequest, Completion, Timings, Usage

__all__ = [
    "ChatClient",
    "ChatMessage",
    "ChatRequest",
    "Completion",
    "EndpointUnreachable",
    "InferenceError",
    "RequestTimedOut",
    "ServerError",
    "SseDecoder",
    "SseEvent",
    "Timings",
    "Usage",
    "normalize_base_url",
    "open_chat_client",
]
