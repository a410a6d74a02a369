"""The checked-in WSDL is what the service generates; `vendgw wsdl export/check` keep it so."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gateway.cli import cli
from gateway.soap.service import OPERATIONS
from gateway.soap.types import TNS
from gateway.soap.wsdl_export import DEFAULT_PATH, canonical, generate


def test_checked_in_wsdl_has_not_drifted() -> None:
    assert DEFAULT_PATH.read_bytes() == generate(), (
        "wsdl/vendgw.wsdl is out of date: run `vendgw wsdl export` and review the diff")


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
    assert b'location="https://example.org/vend"' in canonical(generate(),
                                                              "https://example.org/vend")


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
