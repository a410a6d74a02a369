"""The published WSDL: generated from the spyne models, checked in under wsdl/, kept honest.

Banks generate client code from the WSDL we hand them, so the file in wsdl/ must be exactly what
the service serves. `vendgw wsdl export` writes it; `vendgw wsdl check` (and a test) fail when the
served document drifts from the file. Both sides are compared in one canonical form: pretty
printed, with the service address set to CANONICAL_LOCATION (the served one carries the address
the client used).
"""

from __future__ import annotations

from pathlib import Path

import click
from lxml import etree
from spyne.server.wsgi import WsgiApplication

from gateway.soap.service import build_application

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_BINDING_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
CANONICAL_LOCATION = "http://127.0.0.1:8080/vend"
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "wsdl" / "vendgw.wsdl"


def canonical(wsdl: bytes, location: str = CANONICAL_LOCATION) -> bytes:
    """The WSDL with its soap:address set to `location`, pretty printed with a declaration."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=True
    )
    root = etree.fromstring(wsdl, parser)
    _drop_repeated_ports(root)
    addresses = root.findall(f"{{{WSDL_NS}}}service/{{{WSDL_NS}}}port/{{{SOAP_BINDING_NS}}}address")
    if len(addresses) != 1:
        raise ValueError(f"expected one soap:address in the WSDL, found {len(addresses)}")
    addresses[0].set("location", location)
    for schema in root.iterfind(f"{{{WSDL_NS}}}types/{{{XSD_NS}}}schema"):
        _sort_children(schema, _SCHEMA_ORDER)
    _sort_children(root, _WSDL_ORDER)
    return bytes(etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8"))


def _drop_repeated_ports(root: etree._Element) -> None:
    # Two service classes of one service name (VendGateway and VoucherGateway, whose operations
    # spyne merges into one portType and binding) each add the same wsdl:port: keep one.
    for service in root.iterfind(f"{{{WSDL_NS}}}service"):
        seen: set[tuple[str | None, str | None]] = set()
        for port in service.findall(f"{{{WSDL_NS}}}port"):
            key = (port.get("name"), port.get("binding"))
            if key in seen:
                service.remove(port)
            seen.add(key)


# spyne emits top-level declarations in set order, which changes with the hash seed; their order
# means nothing in XSD or WSDL, so both are sorted by kind and name.
_SCHEMA_ORDER = [
    f"{{{XSD_NS}}}{kind}" for kind in ("import", "simpleType", "complexType", "element")
]
_WSDL_ORDER = [
    f"{{{WSDL_NS}}}{kind}" for kind in ("types", "message", "portType", "binding", "service")
]


def _sort_children(parent: etree._Element, kinds: list[str]) -> None:
    def key(child: etree._Element) -> tuple[int, str]:
        tag = child.tag if isinstance(child.tag, str) else ""
        rank = kinds.index(tag) if tag in kinds else len(kinds)
        return rank, child.get("name") or child.get("namespace") or ""

    parent[:] = sorted(parent, key=key)


def generate(location: str = CANONICAL_LOCATION) -> bytes:
    """The WSDL of the SOAP service, without starting a server or touching a database."""
    soap = WsgiApplication(build_application(None, "vendgw"))
    soap.doc.wsdl11.build_interface_document(location)
    return canonical(soap.doc.wsdl11.get_interface_document(), location)


@click.group("wsdl")
def wsdl_group() -> None:
    """The published WSDL (wsdl/vendgw.wsdl)."""


@wsdl_group.command("export")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_PATH,
    show_default=True,
    help="Where to write the WSDL.",
)
@click.option(
    "--location",
    default=CANONICAL_LOCATION,
    show_default=True,
    help="The service address written into the WSDL.",
)
def export_command(output: Path, location: str) -> None:
    """Write the WSDL the service serves (with LOCATION as its address)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(generate(location))
    click.echo(f"wrote {output}", err=True)


@wsdl_group.command("check")
@click.option(
    "--path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_PATH,
    show_default=True,
)
def check_command(path: Path) -> None:
    """Fail when the checked-in WSDL differs from what the service would serve."""
    if canonical(path.read_bytes()) != generate():
        raise click.ClickException(f"{path} is out of date: run `vendgw wsdl export`")
    click.echo(f"{path} matches the service", err=True)
