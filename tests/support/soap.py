"""Helpers shared by the SOAP unit tests and the end-to-end tests: talking to the gateway the way
a bank does (zeep over requests with HTTP Basic), in process through a WSGI adapter or over a real
socket, plus raw envelopes for the attacks zeep would never send."""

from __future__ import annotations

import io
import itertools
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
import zeep
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from sqlalchemy import Engine, func, inspect, select, table

from gateway.soap.types import TNS

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Terminal:
    client_id: str
    terminal_id: str
    secret: str

    @property
    def auth(self) -> tuple[str, str]:
        return (f"{self.client_id}/{self.terminal_id}", self.secret)


# The demo vendors (vendor_accounts/demo.py); demo secrets, published in the README.
ATM = Terminal("6004000000019", "ATM-0001", "demo-pass-1")  # vend, reprint, reverse
POS = Terminal("6004000000026", "POS-0001", "demo-pass-2")  # float 50.00
OFFICE = Terminal("6004000000095", "OFFICE-1", "demo-pass-3")  # everything incl. engineering

METER = "01234567897"  # active, DOMESTIC
BLOCKED_METER = "04000000010"
FBE_METER = "04000000028"
KEY_CHANGE_METER = "04000000069"
UNKNOWN_METER = "04000000994"  # valid check digit, not registered
BAD_CHECK_DIGIT = "04000000011"

_counter = itertools.count(1)


def new_msg_id() -> dict[str, Any]:
    """A msgID no other request of this test run uses."""
    return {
        "dateTime": time.strftime("%Y%m%d%H%M%S"),
        "uniqueNumber": int(time.time() * 1000) % 10**12 * 1000 + next(_counter) % 1000,
    }


def header(terminal: Terminal, msg_id: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "clientID": terminal.client_id,
        "terminalID": terminal.terminal_id,
        "msgID": msg_id or new_msg_id(),
    }


class WsgiAdapter(BaseAdapter):
    """A requests transport that calls a WSGI application in this process."""

    def __init__(self, app: WsgiApp, remote_addr: str = "127.0.0.1") -> None:
        super().__init__()
        self.app = app
        self.remote_addr = remote_addr

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body or b""
        chunked = not isinstance(body, bytes | str)
        if chunked:
            body = b"".join(body)  # type: ignore[arg-type]
        if isinstance(body, str):
            body = body.encode()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(url.path),
            "QUERY_STRING": url.query,
            "SERVER_NAME": url.hostname or "localhost",
            "SERVER_PORT": str(url.port or 80),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.remote_addr,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "HTTP_HOST": url.netloc,
        }
        if chunked:
            environ["wsgi.input_terminated"] = True
        else:
            environ["CONTENT_LENGTH"] = str(len(body))
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                if key == "CONTENT_TYPE":
                    environ[key] = value
                continue
            if key != "TRANSFER_ENCODING":
                environ[f"HTTP_{key}"] = value
        captured: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        result = self.app(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        response = requests.Response()
        response.status_code = int(captured["status"].split()[0])
        response.reason = captured["status"].partition(" ")[2]
        response.headers = CaseInsensitiveDict(captured["headers"])
        response._content = content
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def session_for(
    terminal: Terminal | None,
    app: WsgiApp | None = None,
    base_url: str = "http://vendgw.test",
    remote_addr: str = "127.0.0.1",
    **tls: Any,
) -> requests.Session:
    """A requests session with the terminal's Basic credentials; in process when `app` is
    given, else over the network to `base_url`."""
    session = requests.Session()
    # Loopback only: no proxies, and no REQUESTS_CA_BUNDLE overriding the test CA in `verify`.
    session.trust_env = False
    if terminal is not None:
        session.auth = terminal.auth
    if app is not None:
        session.mount(base_url, WsgiAdapter(app, remote_addr))
    for key, value in tls.items():
        setattr(session, key, value)
    return session


def zeep_client(
    base_url: str, terminal: Terminal | None, app: WsgiApp | None = None, **tls: Any
) -> zeep.Client:
    """A stock zeep client, as a bank builds it: WSDL from `<base>/vend?wsdl`, Basic auth."""
    session = session_for(terminal, app, base_url, **tls)
    return zeep.Client(
        f"{base_url}/vend?wsdl",
        transport=zeep.Transport(session=session, timeout=30, operation_timeout=60),
    )


def envelope(body: str, *, prolog: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    """A SOAP 1.1 envelope around `body` (whose default namespace is ours)."""
    return (
        f'{prolog}<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        f' xmlns="{TNS}"><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>'
    ).encode()


def confirm_customer_xml(
    terminal: Terminal, meter: str = METER, *, msg_id: dict[str, Any] | None = None
) -> str:
    m = msg_id or new_msg_id()
    return (
        f"<ConfirmCustomerReq><clientID>{terminal.client_id}</clientID>"
        f"<terminalID>{terminal.terminal_id}</terminalID>"
        f"<msgID><dateTime>{m['dateTime']}</dateTime>"
        f"<uniqueNumber>{m['uniqueNumber']}</uniqueNumber></msgID>"
        f"<meterNumber>{meter}</meterNumber></ConfirmCustomerReq>"
    )


def credit_vend_xml(
    terminal: Terminal,
    meter: str = METER,
    amount: str = "100.00",
    *,
    msg_id: dict[str, Any] | None = None,
) -> str:
    m = msg_id or new_msg_id()
    return (
        f"<CreditVendReq><clientID>{terminal.client_id}</clientID>"
        f"<terminalID>{terminal.terminal_id}</terminalID>"
        f"<msgID><dateTime>{m['dateTime']}</dateTime>"
        f"<uniqueNumber>{m['uniqueNumber']}</uniqueNumber></msgID>"
        f"<meterNumber>{meter}</meterNumber><amount>{amount}</amount>"
        f"<payType>cash</payType></CreditVendReq>"
    )


XXE_BODY = (
    '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    f'xmlns="{TNS}"><soapenv:Body><ConfirmCustomerReq><clientID>&xxe;</clientID>'
    "</ConfirmCustomerReq></soapenv:Body></soapenv:Envelope>"
).encode()

ENTITY_BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + ']><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body><x>&lol9;</x></soapenv:Body></soapenv:Envelope>"
).encode()

MALFORMED = b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><ConfirmCustomerReq>'


def oversized(limit: int) -> bytes:
    """A well-formed envelope just over `limit` bytes (padding in a comment)."""
    pad = b"<!--" + b"x" * (limit + 16) + b"-->"
    return envelope("<ConfirmCustomerReq/>").replace(b"<soapenv:Body>", pad + b"<soapenv:Body>")


SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def fault_of(response: requests.Response) -> dict[str, str]:
    """faultcode, faultstring and the detail's faultType/code/desc of a SOAP fault response.

    `faultcode` is the local part of the QName (Client, Server, MustUnderstand,
    VersionMismatch), after checking that its prefix is bound to the SOAP 1.1 envelope
    namespace and that it has no dotted refinement (.NET and JAX-WS compare it whole); the
    XMLVend type is `faultType`, from the detail."""
    from lxml import etree

    root = etree.fromstring(response.content)
    fault = root.find(f".//{{{SOAP11_ENV}}}Fault")
    assert fault is not None, response.content[:500]
    code = fault.find("faultcode")
    assert code is not None and code.text, response.content[:500]
    prefix, _, local = code.text.strip().rpartition(":")
    assert code.nsmap.get(prefix or None) == SOAP11_ENV, code.text
    assert local in ("Client", "Server", "MustUnderstand", "VersionMismatch"), code.text
    detail = fault.find(f"detail/{{{TNS}}}XMLVendFault")
    out = {
        "faultcode": local,
        "faultstring": fault.findtext("faultstring") or "",
    }
    if detail is not None:
        for child in detail:
            out[etree.QName(child).localname] = child.text or ""
    return out


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per table: the database before and after a refused request must be equal."""
    names = sorted(inspect(engine).get_table_names())
    with engine.connect() as conn:
        return {
            name: conn.scalar(select(func.count()).select_from(table(name))) or 0 for name in names
        }


def zeep_fault_detail(fault: zeep.exceptions.Fault) -> dict[str, str]:
    """faultType/code/desc/correlationID from a zeep Fault's detail element."""
    out: dict[str, str] = {}
    if fault.detail is not None:
        node = fault.detail.find(f"{{{TNS}}}XMLVendFault")
        if node is not None:
            from lxml import etree

            for child in node:
                out[etree.QName(child).localname] = child.text or ""
    return out
