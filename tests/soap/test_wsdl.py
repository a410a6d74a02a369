"""The checked-in WSDL is what the service generates; `vendgw wsdl export/check` keep it so.
It declares the one fault detail, XMLVendFault, on every operation, and every fault the gateway
sends carries a detail that is valid against that declaration."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from core.runtime import Runtime
from core.settings import load_settings
from gateway import errors
from gateway.errors import FAULT_TYPES
from gateway.soap import create_soap_app
from gateway.soap.faults import to_fault
from gateway.soap.service import OPERATIONS
from gateway.soap.types import TNS
from gateway.soap.wsdl_export import (
    DEFAULT_PATH,
    SOAP_BINDING_NS,
    WSDL_NS,
    XSD_NS,
    canonical,
    generate,
)
from tests.support.soap import session_for
from vendgw.cli import cli

W = f"{{{WSDL_NS}}}"
XMLVEND_FAULT = f"{{{TNS}}}XMLVendFault"


def test_checked_in_wsdl_has_not_drifted() -> None:
    assert DEFAULT_PATH.read_bytes() == generate(), (
        "wsdl/vendgw.wsdl is out of date: run `vendgw wsdl export` and review the diff"
    )


def test_generation_is_stable() -> None:
    assert generate() == generate()


def test_every_operation_has_its_request_and_response_elements() -> None:
    wsdl = DEFAULT_PATH.read_text()
    assert f'targetNamespace="{TNS}"' in wsdl
    for name in OPERATIONS:
        assert f'<wsdl:operation name="{name}"' in wsdl
        assert f'<xs:element name="{name}Req"' in wsdl
        assert f'<xs:element name="{name}Resp"' in wsdl
    assert 'abstract="true"' not in wsdl


def test_canonical_sets_the_address() -> None:
    assert b'location="https://example.org/vend"' in canonical(
        generate(), "https://example.org/vend"
    )


def test_cli_export_and_check(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "vendgw.wsdl"
    result = runner.invoke(cli, ["wsdl", "export", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == DEFAULT_PATH.read_bytes()
    assert runner.invoke(cli, ["wsdl", "check", "--path", str(out)]).exit_code == 0
    out.write_bytes(out.read_bytes().replace(b"meterNumber", b"meterNo"))
    result = runner.invoke(cli, ["wsdl", "check", "--path", str(out)])
    assert result.exit_code == 1
    assert "out of date" in result.output


# The declared fault ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served_wsdl() -> etree._Element:
    """The WSDL as GET /vend?wsdl serves it (no credentials, no database needed)."""
    runtime = Runtime(load_settings({"VENDGW_DATABASE_URL": "sqlite://"}))
    app = create_soap_app(None, runtime)  # type: ignore[arg-type]  # only describes itself
    response = session_for(None, app).get("http://vendgw.test/vend?wsdl")
    assert response.status_code == 200
    return etree.fromstring(response.content)


def _qname(node: etree._Element, prefixed: str) -> str:
    """`tns:Name` in an attribute value, resolved with the namespaces in scope at `node`."""
    prefix, _, local = prefixed.rpartition(":")
    return f"{{{node.nsmap[prefix or None]}}}{local}"


def _one(nodes: list[etree._Element]) -> etree._Element:
    assert len(nodes) == 1, [etree.tostring(node) for node in nodes]
    return nodes[0]


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_operation_declares_the_xmlvend_fault(served_wsdl: etree._Element, name: str) -> None:
    """portType and binding both name the fault; its message's one part is XMLVendFault."""
    target = served_wsdl.get("targetNamespace")
    abstract = _one(served_wsdl.findall(f"{W}portType/{W}operation[@name='{name}']/{W}fault"))
    message_name = _qname(abstract, abstract.get("message", ""))
    message = _one(
        [
            m
            for m in served_wsdl.findall(f"{W}message")
            if f"{{{target}}}{m.get('name')}" == message_name
        ]
    )
    part = _one(message.findall(f"{W}part"))
    assert _qname(part, part.get("element", "")) == XMLVEND_FAULT

    concrete = _one(served_wsdl.findall(f"{W}binding/{W}operation[@name='{name}']/{W}fault"))
    soap_fault = _one(concrete.findall(f"{{{SOAP_BINDING_NS}}}fault"))
    assert concrete.get("name") == abstract.get("name") == soap_fault.get("name")
    assert soap_fault.get("use") == "literal"


def test_the_fault_element_and_its_type(served_wsdl: etree._Element) -> None:
    schema = _one(served_wsdl.findall(f"{W}types/{{{XSD_NS}}}schema[@targetNamespace='{TNS}']"))
    element = _one(schema.findall(f"{{{XSD_NS}}}element[@name='XMLVendFault']"))
    type_name = _qname(element, element.get("type", ""))
    local = type_name.rpartition("}")[2]
    sequence = _one(
        schema.findall(f"{{{XSD_NS}}}complexType[@name='{local}']/{{{XSD_NS}}}sequence")
    )
    fields = [
        (
            child.get("name"),
            _qname(child, child.get("type", "")),
            child.get("minOccurs", "1"),
            child.get("maxOccurs", "1"),
        )
        for child in sequence
    ]
    string = f"{{{XSD_NS}}}string"
    assert fields == [
        ("faultType", string, "1", "1"),
        ("code", string, "1", "1"),
        ("desc", string, "1", "1"),
        ("correlationID", string, "0", "1"),
    ]


def _declared_schema(wsdl: etree._Element) -> etree.XMLSchema:
    schema = _one(wsdl.findall(f"{W}types/{{{XSD_NS}}}schema"))
    # tostring carries the namespace declarations in scope, which the type="tns:..." need.
    return etree.XMLSchema(etree.fromstring(etree.tostring(schema)))


@pytest.mark.parametrize(
    "error",
    [
        *(cls("a sentence for people", code="some-code") for cls in FAULT_TYPES),
        KeyError("anything unexpected"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_fault_detail_is_valid_against_the_declaration(
    served_wsdl: etree._Element, error: BaseException
) -> None:
    """The detail is built by hand (faults.py says why): the schema keeps it honest."""
    detail = to_fault(error).detail
    assert etree.QName(detail).text == XMLVEND_FAULT
    schema = _declared_schema(served_wsdl)
    assert schema.validate(detail), schema.error_log


def test_a_system_fault_detail_with_its_correlation_id_is_valid(
    served_wsdl: etree._Element,
) -> None:
    fault = to_fault(errors.SystemError_("storage is down", code="storage"))
    assert fault.detail.findtext(f"{{{TNS}}}correlationID") == fault.correlation_id
    assert _declared_schema(served_wsdl).validate(fault.detail)
