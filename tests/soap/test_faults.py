"""faults.to_fault, the one mapping from errors to SOAP faults, on its own and on the wire.

The wire tests run the real /vend application in process with an authenticator and a service
that raise on purpose: what is under test is the mapping and its serialisation (what a zeep
client sees), not the vend path.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import zeep
from spyne.model.fault import Fault

from core.runtime import Runtime
from core.settings import load_settings
from gateway import errors
from gateway.errors import FAULT_TYPES, GatewayError
from gateway.soap import create_soap_app
from gateway.soap.faults import GENERIC_SYSTEM_MESSAGE, VendFault, to_fault
from gateway.vend.types import Principal
from tests.support.soap import ATM, header, session_for, zeep_client, zeep_fault_detail

CLIENT_TYPES = [cls for cls in FAULT_TYPES if cls.client_fault]


@pytest.mark.parametrize("cls", FAULT_TYPES, ids=lambda c: c.__name__)
def test_every_gateway_error_maps_to_its_fault(cls: type[GatewayError]) -> None:
    fault = to_fault(cls("a sentence for people", code="some-code"))
    if cls.client_fault:
        assert fault.faultcode == "Client"  # soap11env:Client on the wire; the type in the detail
        assert fault.faultstring == "a sentence for people"
        assert fault.correlation_id is None
    else:
        assert fault.faultcode == "Server"
        assert fault.faultstring.startswith("a sentence for people (")
        assert fault.correlation_id
    assert (fault.fault_type, fault.code) == (cls.fault_type, "some-code")
    texts = {child.tag.split("}")[1]: child.text for child in fault.detail}
    assert texts["faultType"] == cls.fault_type
    assert texts["code"] == "some-code"


def test_the_taxonomy_names_every_fault_of_the_contract() -> None:
    contract = {
        "UnknownMeterEx",
        "BlockedMeterEx",
        "MSNOCheckDigitEx",
        "VendorCreditEx",
        "VendAmountEx",
        "FBEEx",
        "RequestAuthorisationEx",
        "ClientIDAuthorisationEx",
        "DuplicateMsgIDEx",
        "LastResponseEx",
        "ReversalEx",
        "ConfirmationEx",
        "XMLVendSchemaEx",
        "UseCaseSupportEx",
        "SystemEx",
    }
    assert contract <= {cls.fault_type for cls in FAULT_TYPES}


def test_anything_else_is_a_generic_system_fault(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="gateway.soap"):
        fault = to_fault(KeyError("postgres://admin:secret@db/vendgw"))
    assert (fault.faultcode, fault.fault_type) == ("Server", "SystemEx")
    assert "secret" not in fault.faultstring
    assert fault.faultstring.startswith(GENERIC_SYSTEM_MESSAGE)
    assert fault.correlation_id in fault.faultstring
    assert fault.correlation_id in caplog.text  # the server log carries the same reference
    assert "KeyError" in caplog.text


def test_spyne_client_faults_become_schema_faults() -> None:
    fault = to_fault(Fault("Client.SchemaValidationError", "Element 'x': not expected"))
    assert (fault.faultcode, fault.fault_type) == ("Client", "XMLVendSchemaEx")
    assert "Element 'x'" in fault.faultstring


def test_a_mapped_fault_is_left_alone() -> None:
    fault = to_fault(errors.UnknownMeter("no such meter"))
    assert to_fault(fault) is fault


def test_long_messages_are_clipped() -> None:
    fault = to_fault(errors.SchemaError("x" * 5000))
    assert len(fault.faultstring) <= 300


# On the wire ---------------------------------------------------------------------------------


class RaisingService:
    """Raises whatever the test put in `error` from every operation."""

    error: BaseException = RuntimeError()

    def __getattr__(self, name: str) -> Any:
        def operation(*args: Any) -> Any:
            raise self.error

        return operation


@pytest.fixture
def raising() -> tuple[RaisingService, zeep.Client]:
    runtime = Runtime(load_settings({"VENDGW_DATABASE_URL": "sqlite://"}))
    who = Principal(1, ATM.client_id, ATM.terminal_id, frozenset({"vend"}), "bank")
    service = RaisingService()
    app = create_soap_app(service, runtime, authenticator=lambda environ: who)  # type: ignore[arg-type]
    return service, zeep_client("http://vendgw.test", ATM, app)


@pytest.mark.parametrize("cls", [*CLIENT_TYPES, errors.SystemError_], ids=lambda c: c.__name__)
def test_zeep_sees_each_fault(
    raising: tuple[RaisingService, zeep.Client], cls: type[GatewayError]
) -> None:
    service, client = raising
    service.error = cls("refused for a reason", code="the-code")
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.ConfirmCustomer(**header(ATM), meterNumber="01234567897")
    expected = "Client" if cls.client_fault else "Server"
    assert caught.value.code.split(":")[-1] == expected
    detail = zeep_fault_detail(caught.value)
    assert detail["faultType"] == cls.fault_type
    assert detail["code"] == "the-code"


def test_an_unexpected_error_reaches_the_client_without_internals(
    raising: tuple[RaisingService, zeep.Client],
) -> None:
    service, client = raising
    service.error = ZeroDivisionError("internal detail: table vend_request")
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.CreditVend(
            **header(ATM), meterNumber="01234567897", amount="10.00", payType="cash"
        )
    assert caught.value.code.endswith(":Server")
    assert zeep_fault_detail(caught.value)["faultType"] == "SystemEx"
    assert "vend_request" not in caught.value.message
    assert "Traceback" not in caught.value.message
    assert zeep_fault_detail(caught.value)["correlationID"] in caught.value.message


def test_faults_are_http_500(raising: tuple[RaisingService, zeep.Client]) -> None:
    service, client = raising
    service.error = errors.UnknownMeter("no meter")
    session = client.transport.session
    from tests.support.soap import confirm_customer_xml, envelope, fault_of

    response = session.post(
        "http://vendgw.test/vend",
        data=envelope(confirm_customer_xml(ATM)),
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )
    assert response.status_code == 500
    fault = fault_of(response)
    assert (fault["faultcode"], fault["faultType"]) == ("Client", "UnknownMeterEx")
    assert isinstance(to_fault(errors.UnknownMeter("x")), VendFault)
    assert session_for(ATM) is not None
