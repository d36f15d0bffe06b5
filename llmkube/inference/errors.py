"""Failures talking to an OpenAI-compatible endpoint, each phrased so the user knows where to look."""

from __future__ import annotations


class InferenceError(Exception):
    """Any failed request; the message is meant to be shown as is."""


class EndpointUnreachable(InferenceError):
    """Nothing answers at the endpoint: wrong URL, server not started, port-forward gone."""


class RequestTimedOut(InferenceError):
    pass


class ServerError(InferenceError):
    """The server answered with an error status (or an error event inside a stream)."""

    def __init__(self, message: str, *, status: int | None) -> None:
        super().__init__(message)
        self.status = status
