"""API keys of services that require one (`spec.apiKeySecretRef`): read from their Secrets, checked against the
client's, sent upstream.

A keyed llama-server answers 401 to any request without its key, so the gateway must present it. It does not
trust its own clients to have done so: by default a request to a keyed service must carry that service's key
(`Authorization: Bearer KEY`), checked here before the request may wake the service, take a place in its queue
or reach a server; otherwise anyone who can reach the gateway would reach every keyed service through it. A
gateway whose clients are already restricted (a NetworkPolicy, an authenticating ingress) may be told to trust
them (`--trust-clients`); it then authenticates to keyed services on their behalf.

Why `get` and not an informer: only the Secrets a routed service names are ever read, by name, so the gateway's
account needs no list/watch on Secrets (which would hand it every Secret's value in its namespaces). A read key
is kept for `ttl` seconds; a 401 from a server drops it, so the next request reads the Secret again.

Like llama-server's `--api-key-file`, the Secret's value holds one key per line; any of them admits a client, the
first is sent upstream. The value never reaches a log line, an error, a metric label or an exception message:
every message names the Secret and its key, never what is in it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import anyio
import attrs

from api.v1alpha1.meta import SecretKeyRef
from controller.kube import Forbidden, KubeClient, KubeError, NotFound
from controller.kube.resources import SECRETS
from llmkube.gateway import errors
from llmkube.gateway.routes import Route

Clock = Callable[[], float]

#: Seconds a key read from a Secret is used before the Secret is read again.
KEY_TTL_SECONDS = 60.0
BEARER = "bearer "


class UnusableSecret(ValueError):
    """The Secret holds no usable key under the name the service gives; the message names both, not the value."""


def keys_in_secret(secret: Mapping[str, Any], ref: SecretKeyRef) -> tuple[str, ...]:
    """The keys (one per non-empty line, as llama-server reads its key file) under `ref.key` of `secret`."""
    name = f"Secret '{ref.name}'"
    encoded = (secret.get("data") or {}).get(ref.key)
    if encoded is None:
        raise UnusableSecret(f"{name} has no key '{ref.key}': add it or fix spec.apiKeySecretRef.key")
    try:
        text = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise UnusableSecret(f"{name} key '{ref.key}' is not UTF-8 text") from None
    keys = tuple(line for line in text.split("\n") if line)
    if not keys:
        raise UnusableSecret(f"{name} key '{ref.key}' is empty: put the API key in it")
    return keys


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header, or None when there is none."""
    if authorization is None or not authorization.lower().startswith(BEARER):
        return None
    return authorization[len(BEARER) :].strip() or None


def accepts(keys: tuple[str, ...], token: str | None) -> bool:
    """Whether `token` is one of `keys`, in time that does not depend on where they differ."""
    if token is None:
        return False
    given = token.encode()
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(key.encode(), given)
    return matched


@attrs.frozen
class _Read:
    keys: tuple[str, ...]
    at: float


class ServiceKeys:
    """The keys of keyed services, read on demand with `get` and kept for a while."""

    def __init__(
        self, client: KubeClient, *, ttl: float = KEY_TTL_SECONDS, clock: Clock = time.monotonic
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        # (namespace, secret, key) -> the keys last read; absent until first needed, dropped on a 401.
        self._read: dict[tuple[str, str, str], _Read] = {}
        # One read of a Secret at a time: a burst of first requests makes one API call, not one each.
        self._locks: dict[tuple[str, str, str], anyio.Lock] = {}

    async def keys_for(self, route: Route) -> tuple[str, ...] | None:
        """The service's keys, or None when it requires none; GatewayError 503 when they cannot be read."""
        ref = route.api_key
        if ref is None:
            return None
        slot = (route.namespace, ref.name, ref.key)
        read = self._read.get(slot)
        if read is not None and self._clock() - read.at < self._ttl:
            return read.keys
        lock = self._locks.setdefault(slot, anyio.Lock())
        async with lock:
            read = self._read.get(slot)
            if read is None or self._clock() - read.at >= self._ttl:
                read = _Read(keys=await self._fetch(route, ref), at=self._clock())
                self._read[slot] = read
        return read.keys

    def forget(self, route: Route) -> None:
        """Drop the service's cached keys (its server refused them): the next request reads the Secret again."""
        if route.api_key is not None:
            self._read.pop((route.namespace, route.api_key.name, route.api_key.key), None)

    async def _fetch(self, route: Route, ref: SecretKeyRef) -> tuple[str, ...]:
        where = f"Secret '{ref.name}' in namespace {route.namespace}"
        try:
            secret = await self._client.get(SECRETS, ref.name, namespace=route.namespace)
        except NotFound:
            raise errors.api_key_unavailable(route.name, f"{where} does not exist: create it") from None
        except Forbidden:
            raise errors.api_key_unavailable(
                route.name,
                f"the gateway may not read {where}: its ServiceAccount needs get on secrets there "
                "(config/gateway/role.yaml)",
            ) from None
        except KubeError as exc:
            raise errors.api_key_unavailable(
                route.name, f"reading {where} failed (HTTP {exc.status or 'no answer'}); retry shortly"
            ) from None
        try:
            return keys_in_secret(secret, ref)
        except UnusableSecret as exc:
            raise errors.api_key_unavailable(route.name, str(exc)) from None


class KeySource(Protocol):
    """Where the proxy gets a service's keys: `ServiceKeys` in a cluster, `NoKeys` where no Secret can be read."""

    async def keys_for(self, route: Route) -> tuple[str, ...] | None: ...

    def forget(self, route: Route) -> None: ...


class NoKeys:
    """For a gateway without API access to Secrets (the benchmark's static routes): keyed services are refused."""

    async def keys_for(self, route: Route) -> tuple[str, ...] | None:
        if route.api_key is None:
            return None
        raise errors.api_key_unavailable(route.name, "this gateway reads no Secrets")

    def forget(self, route: Route) -> None:
        pass
