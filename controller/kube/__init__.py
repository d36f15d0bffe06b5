"""The only door to the Kubernetes API: one client per process, typed errors, plain JSON objects.

Everything above this package sees `dict[str, Any]` objects, `Resource` handles and `KubeError` subclasses;
kubernetes_asyncio stays behind it.
"""

from controller.kube.client import (
    APPLY_PATCH,
    DEFAULT_USER_AGENT,
    MERGE_PATCH,
    KubeClient,
    ObjectList,
    Timeouts,
    user_agent,
)
from controller.kube.errors import (
    AlreadyExists,
    BadRequest,
    ConfigUnavailable,
    Conflict,
    ConnectionFailed,
    Forbidden,
    Gone,
    Invalid,
    KubeError,
    NotFound,
    RequestTimeout,
    ServerError,
    TooManyRequests,
    Unauthorized,
    WatchInactive,
)
from controller.kube.recorder import EventRecorder
from controller.kube.resources import Resource, resource_for
from controller.kube.watch import WatchEvent, WatchStream

__all__ = [
    "APPLY_PATCH",
    "DEFAULT_USER_AGENT",
    "MERGE_PATCH",
    "AlreadyExists",
    "BadRequest",
    "ConfigUnavailable",
    "Conflict",
    "ConnectionFailed",
    "EventRecorder",
    "Forbidden",
    "Gone",
    "Invalid",
    "KubeClient",
    "KubeError",
    "NotFound",
    "ObjectList",
    "RequestTimeout",
    "Resource",
    "ServerError",
    "Timeouts",
    "TooManyRequests",
    "Unauthorized",
    "WatchEvent",
    "WatchInactive",
    "WatchStream",
    "resource_for",
    "user_agent",
]
