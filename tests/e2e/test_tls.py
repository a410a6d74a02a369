"""Mutual TLS as banks run it: gunicorn terminates TLS (conf/gunicorn.conf.py reads
VENDGW_TLS_CERT/KEY/CA) and, with a CA given, refuses any client without a certificate it signed.

The CA, the server certificate (for 127.0.0.1) and a client certificate are made here, at test
time, with `cryptography`, and live only in the test's temporary directory.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.e2e.conftest import Server, start_server, stop_server
from tests.support.soap import ATM, METER, header, zeep_client

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    elif server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throw-away test CA with a server and a client certificate, plus a stranger's
    certificate from another CA."""
    d = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vendgw test CA")])
    ca_cert = _issue("vendgw test CA", ca_key, ca_name, ca_key, ca=True)
    server_key, client_key, stranger_key, other_ca_key = _key(), _key(), _key(), _key()
    other_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else's CA")])
    return Pki(
        ca=_write_cert(ca_cert, d / "ca.pem"),
        server_cert=_write_cert(
            _issue("127.0.0.1", server_key, ca_name, ca_key, server=True), d / "server.pem"
        ),
        server_key=_write_key(server_key, d / "server.key"),
        client_cert=_write_cert(
            _issue(ATM.client_id, client_key, ca_name, ca_key), d / "client.pem"
        ),
        client_key=_write_key(client_key, d / "client.key"),
        stranger_cert=_write_cert(
            _issue(ATM.client_id, stranger_key, other_name, other_ca_key), d / "stranger.pem"
        ),
        stranger_key=_write_key(stranger_key, d / "stranger.key"),
    )


@pytest.fixture(scope="module")
def tls_server(
    e2e_db: TestDatabase, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    client_cert = (str(pki.client_cert), str(pki.client_key))
    running = start_server(
        e2e_db,
        tmp_path_factory.mktemp("tls-log"),
        scheme="https",
        extra_env={
            "VENDGW_TLS_CERT": str(pki.server_cert),
            "VENDGW_TLS_KEY": str(pki.server_key),
            "VENDGW_TLS_CA": str(pki.ca),
        },
        health_kwargs={"verify": str(pki.ca), "cert": client_cert},
    )
    try:
        yield running
    finally:
        stop_server(running)


def test_a_client_with_a_certificate_from_our_ca_can_vend(tls_server: Server, pki: Pki) -> None:
    client = zeep_client(
        tls_server.base_url,
        ATM,
        verify=str(pki.ca),
        cert=(str(pki.client_cert), str(pki.client_key)),
    )
    assert client.service._binding_options["address"].startswith("https://127.0.0.1:")
    resp = client.service.ConfirmCustomer(**header(ATM), meterNumber=METER)
    assert resp.meter.msno == METER


def test_a_client_without_a_certificate_is_refused(tls_server: Server, pki: Pki) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{tls_server.base_url}/vend?wsdl", verify=str(pki.ca), timeout=10)


def test_a_certificate_from_another_ca_is_refused(tls_server: Server, pki: Pki) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(
            f"{tls_server.base_url}/vend?wsdl",
            verify=str(pki.ca),
            timeout=10,
            cert=(str(pki.stranger_cert), str(pki.stranger_key)),
        )


def test_plain_http_is_not_served(tls_server: Server) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(tls_server.base_url.replace("https://", "http://") + "/healthz", timeout=10)
