"""The gateway's SOAP edge: XMLVend 2.1 over SOAP 1.1 document/literal, served at `/vend`.

Thin by design: it checks and parses the request (guard), authenticates the terminal (auth),
builds the RequestHeader and Principal, calls a `VendingService` and maps the answer or the error
(faults.to_fault). See README.md in this directory for the contract.
"""

from gateway.soap import _spyne_compat  # noqa: F401  # first: see its docstring
from gateway.soap.app import create_soap_app
from gateway.soap.types import TNS

__all__ = ["TNS", "create_soap_app"]
