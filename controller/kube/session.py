"""The HTTP session behind a KubeClient: the API server's TLS, one unbounded pool, the proxy read once.

kubernetes_asyncio opens its session with `trust_env=True`, under which aiohttp reads the environment's proxy
variables and, in a worker thread, `~/.netrc` on every request: a thread hop and a file read per API call, about
a sixth of the controller's event-loop time in a burst of new services. client-go reads the proxy variables once
(`http.ProxyFromEnvironment`) and never reads netrc, so this session does the same: `HTTPS_PROXY`/`HTTP_PROXY` and
`NO_PROXY` are read when the client connects, a kubeconfig's `proxy-url` wins over them, and netrc is not read.
"""

from __future__ import annotations

import ssl
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp

#: Watch events carrying large objects can exceed aiohttp's default read buffer; etcd's request limit is 1.5 MiB.
READ_BUFFER_BYTES = 2**21


def proxy_from_environment(host_url: str) -> str | None:
    """The proxy the environment names for the API server at `host_url`, or None (none set, or NO_PROXY)."""
    parts = urlsplit(host_url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme or "https")
    if not proxy or not parts.hostname:
        return None
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if urllib.request.proxy_bypass(host):
        return None
    return proxy


def tls_context(configuration: Any) -> ssl.SSLContext:
    """The TLS settings a kubeconfig or a pod's service account gives: CA, client certificate, verification."""
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, keyfile=configuration.key_file)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if getattr(configuration, "disable_strict_ssl_verification", False):
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


def api_session(configuration: Any, *, connection_limit: int) -> aiohttp.ClientSession:
    """A session that reads nothing from the environment per request (the proxy is set on the configuration)."""
    connector = aiohttp.TCPConnector(limit=connection_limit, ssl=tls_context(configuration))
    return aiohttp.ClientSession(connector=connector, trust_env=False, read_bufsize=READ_BUFFER_BYTES)
