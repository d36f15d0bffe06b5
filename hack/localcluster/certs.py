"""The cluster's PKI: one CA, the API server's serving certificate, client certificates and the
service-account signing key.

Every component authenticates with its own client certificate, so RBAC sees the same identities it sees in a
real cluster (`system:kube-controller-manager`, `system:kube-scheduler`); the admin identity is in
`system:masters`. Keys are EC P-256: generating them takes milliseconds, which keeps a fresh cluster cheap.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The first address of the service range: the in-cluster `kubernetes` Service, which must match the cert.
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"

_VALIDITY = datetime.timedelta(days=365)


@attrs.frozen(kw_only=True)
class KeyPair:
    cert: Path
    key: Path


@attrs.frozen(kw_only=True)
class ClientIdentity:
    """Who a client certificate says it is: the user name and its groups, as RBAC reads them."""

    user: str
    groups: tuple[str, ...] = ()


ADMIN = ClientIdentity(user="kubernetes-admin", groups=("system:masters",))
CONTROLLER_MANAGER = ClientIdentity(user="system:kube-controller-manager")
SCHEDULER = ClientIdentity(user="system:kube-scheduler")
# kwok plays every kubelet at once; no built-in role covers all fake nodes, so it acts as an admin.
KWOK = ClientIdentity(user="kwok-controller", groups=("system:masters",))
# kube-apiserver's identity towards aggregated API servers; publishing the request-header CA also lets the
# controller-manager and scheduler finish their delegated-authentication setup instead of logging errors.
FRONT_PROXY = ClientIdentity(user="front-proxy-client")
# The real node's identities: kube-proxy's is bound to system:node-proxier by the API server's default policy;
# the API server presents its kubelet-client identity when it proxies logs, exec and port-forward to a kubelet.
KUBE_PROXY = ClientIdentity(user="system:kube-proxy")
COREDNS = ClientIdentity(user="system:coredns")
APISERVER_KUBELET_CLIENT = ClientIdentity(user="kube-apiserver-kubelet-client", groups=("system:masters",))


def kubelet_identity(node_name: str) -> ClientIdentity:
    """What the Node authorizer and NodeRestriction expect of a kubelet's credentials."""
    return ClientIdentity(user=f"system:node:{node_name}", groups=("system:nodes",))


@attrs.frozen(kw_only=True)
class ClusterPki:
    ca: KeyPair
    serving: KeyPair
    service_account_key: Path
    service_account_public_key: Path
    clients: dict[str, KeyPair]
    #: The kubelet's serving certificate, when the cluster has a real node.
    kubelet_serving: KeyPair | None = None

    def client(self, identity: ClientIdentity) -> KeyPair:
        return self.clients[identity.user]


def generate_pki(
    directory: Path,
    *,
    apiserver_ips: tuple[str, ...] = (),
    extra_clients: tuple[ClientIdentity, ...] = (),
    kubelet_ip: str | None = None,
) -> ClusterPki:
    """The CA and every certificate; `apiserver_ips` are extra addresses the API server serves on, and
    `kubelet_ip` asks for a kubelet serving certificate for that address."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "llmkube-local-ca")])
    ca_cert = (
        _builder(subject=ca_name, issuer=ca_name, public_key=ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca = _write_pair(directory / "ca", cert=ca_cert, key=ca_key)

    serving = _leaf(
        directory / "apiserver",
        ca=(ca_cert, ca_key),
        identity=ClientIdentity(user="kube-apiserver"),
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        alt_names=[
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes"),
            x509.DNSName("kubernetes.default"),
            x509.DNSName("kubernetes.default.svc"),
            x509.DNSName("kubernetes.default.svc.cluster.local"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address(KUBERNETES_SERVICE_IP)),
            *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in apiserver_ips),
        ],
    )
    clients = {
        identity.user: _leaf(
            directory / identity.user.replace(":", "-"),
            ca=(ca_cert, ca_key),
            identity=identity,
            usage=ExtendedKeyUsageOID.CLIENT_AUTH,
            alt_names=[],
        )
        for identity in (ADMIN, CONTROLLER_MANAGER, SCHEDULER, KWOK, FRONT_PROXY, *extra_clients)
    }
    kubelet_serving = None
    if kubelet_ip is not None:
        kubelet_serving = _leaf(
            directory / "kubelet-serving",
            ca=(ca_cert, ca_key),
            identity=ClientIdentity(user="kubelet"),
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            alt_names=[x509.IPAddress(ipaddress.ip_address(kubelet_ip))],
        )

    # Service-account tokens are RS256 by default; an RSA key avoids any algorithm negotiation.
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_private = directory / "service-account.key"
    sa_public = directory / "service-account.pub"
    sa_private.write_bytes(_private_pem(sa_key))
    sa_public.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return ClusterPki(
        ca=ca,
        serving=serving,
        service_account_key=sa_private,
        service_account_public_key=sa_public,
        clients=clients,
        kubelet_serving=kubelet_serving,
    )


def _leaf(
    stem: Path,
    *,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    identity: ClientIdentity,
    usage: x509.ObjectIdentifier,
    alt_names: list[x509.GeneralName],
) -> KeyPair:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in identity.groups]
        + [x509.NameAttribute(NameOID.COMMON_NAME, identity.user)]
    )
    builder = (
        _builder(subject=subject, issuer=ca_cert.subject, public_key=key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    return _write_pair(stem, cert=builder.sign(ca_key, hashes.SHA256()), key=key)


def _builder(
    *, subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    # Backdated a minute so a freshly started component never sees a certificate from the future.
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
    )


def _write_pair(stem: Path, *, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> KeyPair:
    pair = KeyPair(cert=stem.with_suffix(".crt"), key=stem.with_suffix(".key"))
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(_private_pem(key))
    pair.key.chmod(0o600)
    return pair


def _private_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
