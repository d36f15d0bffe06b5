"""The process's one connection to the API server, with a deadline on every call.

kubernetes_asyncio is used only for what it does well: reading kubeconfig / in-cluster credentials (including
token refresh) and owning the TLS-configured aiohttp session. Requests themselves are sent here with
`_preload_content=False` so that

- every call has a client-side deadline (the library's default is none at all: a hung call hangs forever);
- status codes are checked here (the library skips its own check when it does not preload the body);
- bodies are plain JSON dicts in and out; no generated model class reaches a caller;
- every request names its program in `User-Agent` (`llmkube-controller/0.1.0`), which is how the API server's
  audit log and request metrics tell its requests apart (the library's own agent is not sent on this path).

Create it with `async with KubeClient.connect(...)` inside the running event loop: the aiohttp session binds to
the loop that creates it and must be closed on the same loop.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import attrs
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

from api.objects import Object, metadata, name_of
from controller.kube.errors import ConfigUnavailable, ConnectionFailed, RequestTimeout, error_from_status
from controller.kube.resources import Resource
from controller.kube.session import api_session, proxy_from_environment
from controller.kube.watch import WatchStream

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

Query = list[tuple[str, str]]

#: aiohttp's "no limit" for the connection pool. HTTP/1.1 carries one request per connection, and the callers
#: already bound how many run at once (a controller's workers, one watch per informer); the library's pool of 100
#: would only add a hidden second bound below theirs, under which writes queue for a connection while slow ones
#: (a burst of Service creates waits for ClusterIP allocation, one at a time) hold them, and time out unsent.
UNLIMITED_CONNECTIONS = 0


def _package_version() -> str:
    try:
        return importlib.metadata.version("llmkube")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def user_agent(program: str) -> str:
    """`program/version`, the form client-go programs use, so audit logs and metrics name the program."""
    return f"{program}/{_package_version()}"


#: For programs that do not name themselves.
DEFAULT_USER_AGENT = user_agent("llmkube")


@attrs.frozen(kw_only=True)
class Timeouts:
    """Client-side deadlines in seconds. `watch_inactivity` sits above the ~60 s bookmark cadence."""

    connect: float = 5.0
    request: float = 30.0
    watch_inactivity: float = 90.0


@attrs.frozen(kw_only=True)
class ObjectList:
    """A complete LIST: every page's items and the snapshot's resourceVersion to watch from."""

    items: list[Object]
    resource_version: str


class KubeClient:
    """Typed-error CRUD, server-side apply and raw watches over one shared session."""

    def __init__(
        self, api_client: Any, *, timeouts: Timeouts | None = None, user_agent: str = DEFAULT_USER_AGENT
    ) -> None:
        self._api = api_client
        self._rest = api_client.rest_client
        self._host = str(api_client.configuration.host).rstrip("/")
        self.timeouts = timeouts or Timeouts()
        self.user_agent = user_agent

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        *,
        kubeconfig: str | Path | None = None,
        context: str | None = None,
        in_cluster: bool | None = None,
        timeouts: Timeouts | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> AsyncIterator[KubeClient]:
        """Credentials like client-go: explicit kubeconfig, then $KUBECONFIG, then in-cluster, then ~/.kube/config."""
        configuration = await _load_configuration(
            kubeconfig=kubeconfig, context=context, in_cluster=in_cluster
        )
        configuration.connection_pool_maxsize = UNLIMITED_CONNECTIONS
        configuration.proxy = configuration.proxy or proxy_from_environment(str(configuration.host))
        api_client = k8s_client.ApiClient(configuration)
        # The library's own session reads the environment on every request; ours reads it once (see session.py).
        await api_client.rest_client.pool_manager.close()
        api_client.rest_client.pool_manager = api_session(
            configuration, connection_limit=UNLIMITED_CONNECTIONS
        )
        try:
            yield cls(api_client, timeouts=timeouts, user_agent=user_agent)
        finally:
            with anyio.CancelScope(shield=True):
                await api_client.close()

    @property
    def host(self) -> str:
        return self._host

    # -- reads ------------------------------------------------------------------------------------------------

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> Object:
        obj = await self.request("GET", resource.object_path(name, namespace))
        return _with_type(resource, obj)

    async def list(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        page_size: int = 500,
        transform: Callable[[Object], Object] | None = None,
    ) -> ObjectList:
        """All pages of a LIST. `resource_version` "0" may be served from the watch cache; "" is a quorum read.

        `transform` is applied to each item as its page arrives, so only one page is ever held untrimmed.
        """
        query: Query = [("limit", str(page_size))]
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        first_page_query = [*query, ("resourceVersion", resource_version)] if resource_version else query
        path = resource.collection_path(namespace)
        items: list[Object] = []
        page = await self.request("GET", path, query=first_page_query)
        snapshot_rv = str(metadata(page).get("resourceVersion") or "")
        while True:
            typed = (_with_type(resource, item) for item in page.get("items") or ())
            items.extend(typed if transform is None else map(transform, typed))
            token = metadata(page).get("continue")
            if not token:
                return ObjectList(items=items, resource_version=snapshot_rv)
            # A continued page must not name a resourceVersion: the token pins the snapshot.
            page = await self.request("GET", path, query=[*query, ("continue", str(token))])

    # -- writes -----------------------------------------------------------------------------------------------

    async def create(self, resource: Resource, obj: Object, *, namespace: str | None = None) -> Object:
        body = _with_type(resource, dict(obj))
        ns = _namespace_for(resource, body, namespace)
        created = await self.request("POST", resource.collection_path(ns), body=body)
        return _with_type(resource, created)

    async def replace(self, resource: Resource, obj: Object, *, subresource: str | None = None) -> Object:
        """PUT: fails with `Conflict` unless `metadata.resourceVersion` is still current (optimistic locking)."""
        body = _with_type(resource, dict(obj))
        path = resource.object_path(_name_of(body), _namespace_for(resource, body, None), subresource)
        return _with_type(resource, await self.request("PUT", path, body=body))

    async def apply(
        self,
        resource: Resource,
        obj: Object,
        *,
        field_manager: str,
        force: bool = True,
        subresource: str | None = None,
    ) -> Object:
        """Server-side apply of the full intent of `field_manager`: fields it owned and left out are removed."""
        body = _with_type(resource, dict(obj))
        path = resource.object_path(_name_of(body), _namespace_for(resource, body, None), subresource)
        query: Query = [("fieldManager", field_manager)]
        if force:
            query.append(("force", "true"))
        applied = await self.request("PATCH", path, query=query, body=body, content_type=APPLY_PATCH)
        return _with_type(resource, applied)

    async def apply_status(
        self, resource: Resource, obj: Object, *, field_manager: str, force: bool = True
    ) -> Object:
        return await self.apply(resource, obj, field_manager=field_manager, force=force, subresource="status")

    async def merge_patch(
        self,
        resource: Resource,
        name: str,
        patch: Mapping[str, Any],
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        field_manager: str | None = None,
    ) -> Object:
        """JSON merge patch: maps merge, lists are replaced whole, `None` deletes a key."""
        query: Query = [("fieldManager", field_manager)] if field_manager else []
        path = resource.object_path(name, namespace, subresource)
        patched = await self.request("PATCH", path, query=query, body=dict(patch), content_type=MERGE_PATCH)
        return _with_type(resource, patched)

    async def patch_status(
        self,
        resource: Resource,
        name: str,
        patch: Mapping[str, Any],
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
    ) -> Object:
        return await self.merge_patch(
            resource, name, patch, namespace=namespace, subresource="status", field_manager=field_manager
        )

    async def delete(
        self,
        resource: Resource,
        name: str,
        *,
        namespace: str | None = None,
        propagation_policy: str = "Background",
        precondition_uid: str | None = None,
    ) -> Object:
        """Delete; `Foreground` waits for dependents, `Orphan` keeps them. Raises `NotFound` if already gone."""
        body: Object = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation_policy}
        if precondition_uid:
            body["preconditions"] = {"uid": precondition_uid}
        result: Object = await self.request("DELETE", resource.object_path(name, namespace), body=body)
        return result

    # -- watch ------------------------------------------------------------------------------------------------

    @asynccontextmanager
    async def watch(
        self,
        resource: Resource,
        *,
        resource_version: str,
        timeout_seconds: int,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        inactivity: float | None = None,
    ) -> AsyncIterator[WatchStream]:
        """An open watch with bookmarks; the server closes it cleanly after `timeout_seconds`."""
        query: Query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        path = resource.collection_path(namespace)
        # No total deadline on the stream itself: the inactivity deadline in WatchStream bounds each read.
        stream_timeout = aiohttp.ClientTimeout(
            total=None, connect=self.timeouts.connect, sock_connect=self.timeouts.connect
        )
        try:
            with anyio.fail_after(self.timeouts.request):
                response = await self._open(
                    "GET", path, query=query, body=None, client_timeout=stream_timeout
                )
        except TimeoutError:
            raise RequestTimeout(
                f"WATCH {path}: no response headers within {self.timeouts.request:.0f}s"
            ) from None
        try:
            if not 200 <= response.status < 300:
                await self._raise_for(response, f"WATCH {path}")
            yield WatchStream(response, inactivity=inactivity or self.timeouts.watch_inactivity)
        finally:
            response.close()

    # -- streaming subresources -------------------------------------------------------------------------------

    @asynccontextmanager
    async def websocket(
        self, path: str, *, query: Iterable[tuple[str, str]] = (), protocols: Iterable[str] = ()
    ) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
        """A websocket to a streaming subresource (`pods/portforward`, `pods/exec`) with this client's
        credentials and TLS; the handshake is bounded by the request deadline, the stream itself is not."""
        headers = {"User-Agent": self.user_agent}
        params = list(query)
        await self._api.update_params_for_auth(headers, params, ["BearerToken"])
        session: aiohttp.ClientSession = self._rest.pool_manager
        server_hostname = getattr(self._rest, "server_hostname", None)
        proxy = getattr(self._rest, "proxy", None)
        try:
            with anyio.fail_after(self.timeouts.request):
                ws = await session.ws_connect(
                    self._host + path,
                    params=params,
                    headers=headers,
                    protocols=tuple(protocols),
                    autoping=True,
                    max_msg_size=0,
                    **({"server_hostname": server_hostname} if server_hostname else {}),
                    **({"proxy": proxy} if proxy else {}),
                )
        except TimeoutError:
            raise RequestTimeout(
                f"WEBSOCKET {path}: no handshake within {self.timeouts.request:.0f}s"
            ) from None
        except aiohttp.WSServerHandshakeError as err:
            raise error_from_status(err.status, err.message, context=f"WEBSOCKET {path}") from None
        except aiohttp.ClientError as err:
            raise ConnectionFailed(f"WEBSOCKET {path}: {err}") from err
        try:
            yield ws
        finally:
            with anyio.CancelScope(shield=True):
                await ws.close()

    # -- plumbing ---------------------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Iterable[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = JSON,
        total_seconds: float | None = None,
    ) -> Any:
        """One call with a total deadline; returns the decoded JSON body or raises a typed `KubeError`."""
        total = total_seconds or self.timeouts.request
        client_timeout = aiohttp.ClientTimeout(
            total=total, connect=self.timeouts.connect, sock_connect=self.timeouts.connect
        )
        try:
            with anyio.fail_after(total):
                response = await self._open(
                    method,
                    path,
                    query=list(query),
                    body=body,
                    client_timeout=client_timeout,
                    content_type=content_type,
                )
                try:
                    if not 200 <= response.status < 300:
                        await self._raise_for(response, f"{method} {path}")
                    data = await response.read()
                finally:
                    response.release()
        except TimeoutError:
            raise RequestTimeout(f"{method} {path}: no answer within {total:.0f}s") from None
        except aiohttp.ClientError as err:
            raise ConnectionFailed(f"{method} {path}: {err}") from err
        return json.loads(data) if data else None

    async def _open(
        self,
        method: str,
        path: str,
        *,
        query: Query,
        body: Any,
        client_timeout: aiohttp.ClientTimeout,
        content_type: str = JSON,
    ) -> aiohttp.ClientResponse:
        if content_type == APPLY_PATCH and body is not None:
            body = yaml_safe_json(body)
            # With a charset the client passes the bytes as they are; the server ignores the parameter.
            content_type = f"{APPLY_PATCH}; charset=utf-8"
        headers = {"Accept": JSON, "Content-Type": content_type, "User-Agent": self.user_agent}
        await self._api.update_params_for_auth(headers, query, ["BearerToken"])
        try:
            response: aiohttp.ClientResponse = await self._rest.request(
                method,
                self._host + path,
                query_params=query,
                headers=headers,
                body=body,
                _preload_content=False,
                _request_timeout=client_timeout,
            )
        except TimeoutError:
            raise RequestTimeout(
                f"{method} {path}: could not connect within {self.timeouts.connect:.0f}s"
            ) from None
        except aiohttp.ClientError as err:
            raise ConnectionFailed(f"{method} {path}: {err}") from err
        return response

    @staticmethod
    async def _raise_for(response: aiohttp.ClientResponse, context: str) -> None:
        try:
            body = await response.read()
        except aiohttp.ClientError:
            body = b""
        raise error_from_status(
            response.status, body, context=context, retry_after=response.headers.get("Retry-After")
        )


#: Characters YAML refuses raw (DEL, C1 controls, the two BMP non-characters) or reads as something else raw (NEL,
#: U+2028 and U+2029 are line breaks to YAML 1.1, folded inside a quoted string; a BOM may be dropped).
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def yaml_safe_json(body: Any) -> bytes:
    """`body` as JSON the API server's YAML parser reads back unchanged (an apply patch is parsed as YAML).

    Python's ASCII-escaped JSON writes characters beyond U+FFFF as surrogate pairs, which the parser refuses
    ("invalid Unicode character escape code"); unescaped UTF-8 carries them. The few characters YAML refuses
    or reads differently when raw (_NOT_YAML_PRINTABLE) stay escaped.
    """
    text = json.dumps(body, ensure_ascii=False)
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode()


async def _load_configuration(
    *, kubeconfig: str | Path | None, context: str | None, in_cluster: bool | None
) -> Any:
    # A private Configuration, never the library's global default, so two clients in one process do not mix.
    configuration = k8s_client.Configuration()
    use_in_cluster = in_cluster
    if use_in_cluster is None:
        use_in_cluster = (
            kubeconfig is None
            and not os.environ.get("KUBECONFIG")
            and bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        )
    try:
        if use_in_cluster:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            path = kubeconfig or os.environ.get("KUBECONFIG") or None
            _require_kubeconfig(path)
            await k8s_config.load_kube_config(
                config_file=str(path) if path else None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
    except (k8s_config.ConfigException, OSError) as err:
        # The library's own exception must not leak: callers tell "no cluster configured" apart by class.
        raise ConfigUnavailable(f"no usable Kubernetes configuration: {err}") from None
    return configuration


def _require_kubeconfig(path: str | Path | None) -> None:
    """Names the missing file and both ways to a cluster: the library only says "Invalid kube-config file",
    which is what a controller container run without a ServiceAccount would otherwise print."""
    # KUBECONFIG may list several files; the library reads those that exist.
    candidates = [Path(p).expanduser() for p in str(path).split(os.pathsep) if p] if path else []
    candidates = candidates or [Path("~/.kube/config").expanduser()]
    if not any(candidate.is_file() for candidate in candidates):
        raise ConfigUnavailable(
            f"no kubeconfig at {os.pathsep.join(map(str, candidates))}, and not in a pod "
            "(KUBERNETES_SERVICE_HOST is unset)"
        )


def _with_type(resource: Resource, obj: Object) -> Object:
    """LIST items and some responses omit apiVersion/kind; the cache and the handlers want them everywhere."""
    if "kind" not in obj or "apiVersion" not in obj:
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
    return obj


def _name_of(obj: Object) -> str:
    name = name_of(obj)
    if not name:
        raise ValueError(f"{obj.get('kind', 'object')} without metadata.name")
    return str(name)


def _namespace_for(resource: Resource, obj: Object, namespace: str | None) -> str | None:
    if not resource.namespaced:
        return None
    ns = namespace or metadata(obj).get("namespace")
    if not ns:
        raise ValueError(f"{resource.kind} {metadata(obj).get('name')!r} needs metadata.namespace")
    return str(ns)
