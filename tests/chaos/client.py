"""A bank's side of the fault-injection suite: XMLVend over HTTP to the two nodes, retries with the
same msgID after a time-out or a connection error (as XMLVend asks of a bank), and a record of
every answer, which the invariants compare with the database afterwards.

Requests are pre-built XML over http.client (cheap on the client side: clients, nodes and
PostgreSQL share two cores), parsed with lxml.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from gateway.soap.types import TNS

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
# A bank's patience for one attempt; PostgreSQL restarts and freezes last a few seconds.
ATTEMPT_TIMEOUT = 10.0
# How long a bank keeps retrying one msgID before giving up (bounded, so the suite is).
RETRY_SECONDS = 60.0
MAX_ATTEMPTS = 40


@dataclass(frozen=True)
class Terminal:
    client_id: str
    terminal_id: str
    secret: str

    def authorization(self, secret: str | None = None) -> str:
        raw = f"{self.client_id}/{self.terminal_id}:{self.secret if secret is None else secret}"
        return "Basic " + base64.b64encode(raw.encode()).decode()


# The demo vendors (vendor_accounts/demo.py); demo secrets, published in the README.
ATM = Terminal("6004000000019", "ATM-0001", "demo-pass-1")
POS = Terminal("6004000000026", "POS-0001", "demo-pass-2")
OFFICE = Terminal("6004000000095", "OFFICE-1", "demo-pass-3")

_unique = itertools.count(int(time.time()) % 100000 * 10**6)
_unique_lock = threading.Lock()


@dataclass(frozen=True)
class MsgID:
    date_time: str
    unique_number: int

    @property
    def key(self) -> str:
        """As vend_transaction.msg_id stores it: dateTime followed by uniqueNumber."""
        return f"{self.date_time}{self.unique_number}"

    def xml(self, tag: str = "msgID") -> str:
        return (
            f"<{tag}><dateTime>{self.date_time}</dateTime>"
            f"<uniqueNumber>{self.unique_number}</uniqueNumber></{tag}>"
        )


def new_msg_id() -> MsgID:
    with _unique_lock:
        number = next(_unique)
    return MsgID(time.strftime("%Y%m%d%H%M%S"), number)


def envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_NS}"'
        f' xmlns="{TNS}"><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>'
    ).encode()


def _head(terminal: Terminal, msg_id: MsgID) -> str:
    return (
        f"<clientID>{terminal.client_id}</clientID>"
        f"<terminalID>{terminal.terminal_id}</terminalID>{msg_id.xml()}"
    )


def credit_vend(terminal: Terminal, msg_id: MsgID, meter: str, amount: str) -> bytes:
    return envelope(
        f"<CreditVendReq>{_head(terminal, msg_id)}<meterNumber>{meter}</meterNumber>"
        f"<amount>{amount}</amount><payType>cash</payType></CreditVendReq>"
    )


def voucher_vend(terminal: Terminal, msg_id: MsgID, meter: str, pin: str) -> bytes:
    return envelope(
        f"<VoucherVendReq>{_head(terminal, msg_id)}<pin>{pin}</pin>"
        f"<meterNumber>{meter}</meterNumber></VoucherVendReq>"
    )


def advice(operation: str, terminal: Terminal, msg_id: MsgID, original: MsgID) -> bytes:
    return envelope(
        f"<{operation}Req>{_head(terminal, msg_id)}{original.xml('originalMsgID')}</{operation}Req>"
    )


@dataclass
class Answer:
    """One attempt's outcome, as the bank saw it."""

    node: str
    status: int | None  # HTTP status, None when no HTTP answer came
    elapsed: float
    kind: str  # response | fault | http | error
    faultcode: str = ""  # faultcode.faultType, e.g. Client.ReversalEx, Server.SystemEx
    code: str = ""  # the XMLVendFault code, e.g. unknown-transaction
    receipt: str = ""
    tokens: tuple[str, ...] = ()
    element: str = ""  # the response element's local name, e.g. VendResp
    detail: str = ""  # exception or a body excerpt, for failure messages

    @property
    def final(self) -> bool:
        """An answer a bank acts on: a response or a Client fault. Time-outs, connection
        errors, SystemEx, a throttled login and other HTTP errors are retried with the same
        msgID."""
        return self.kind == "response" or (
            self.kind == "fault"
            and self.faultcode.startswith("Client.")
            and self.code != "auth-throttled"
        )

    def __str__(self) -> str:
        what = self.element or self.faultcode or self.detail[:120]
        return f"{self.node}:{self.status}:{self.kind}:{what}:{self.code}:{self.receipt}"


def parse_answer(node: str, status: int, body: bytes, elapsed: float) -> Answer:
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError:
        return Answer(node, status, elapsed, "http", detail=body[:300].decode(errors="replace"))
    fault = root.find(f".//{{{SOAP_NS}}}Fault")
    if fault is not None:
        # faultcode is exactly Client or Server; the XMLVend type is in the detail.
        code = (fault.findtext("faultcode") or "").split(":")[-1]
        fault_type = fault.findtext(f"detail/{{{TNS}}}XMLVendFault/{{{TNS}}}faultType")
        if fault_type:
            code = f"{code}.{fault_type}"
        detail_code = fault.findtext(f"detail/{{{TNS}}}XMLVendFault/{{{TNS}}}code") or ""
        return Answer(
            node,
            status,
            elapsed,
            "fault",
            faultcode=code,
            code=detail_code,
            detail=fault.findtext("faultstring") or "",
        )
    body_el = root.find(f"{{{SOAP_NS}}}Body")
    if status != 200 or body_el is None or len(body_el) == 0:
        return Answer(node, status, elapsed, "http", detail=body[:300].decode(errors="replace"))
    resp = body_el[0]
    receipt = resp.findtext(f"{{{TNS}}}receiptNo") or ""
    tokens = tuple(t.text or "" for t in resp.iter(f"{{{TNS}}}tokens"))
    return Answer(
        node,
        status,
        elapsed,
        "response",
        receipt=receipt,
        tokens=tokens,
        element=etree.QName(resp).localname,
    )


def post(
    base_url: str,
    node: str,
    body: bytes,
    authorization: str | None,
    *,
    timeout: float = ATTEMPT_TIMEOUT,
    source: str | None = None,
) -> Answer:
    """One POST /vend; never raises: a failure is an Answer of kind 'error'."""
    host, port = base_url.removeprefix("http://").split(":")
    started = time.monotonic()
    conn = http.client.HTTPConnection(
        host, int(port), timeout=timeout, source_address=(source, 0) if source else None
    )
    headers = {"Content-Type": "text/xml; charset=utf-8", "Connection": "close"}
    if authorization is not None:
        headers["Authorization"] = authorization
    try:
        conn.request("POST", "/vend", body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return parse_answer(node, response.status, data, time.monotonic() - started)
    except (OSError, http.client.HTTPException) as exc:
        return Answer(
            node, None, time.monotonic() - started, "error", detail=f"{type(exc).__name__}: {exc}"
        )
    finally:
        conn.close()


# The operations that vend, and the response element that says the vend was done.
_VEND_RESPONSES = {"CreditVend": "CreditVendResp", "VoucherVend": "VoucherVendResp"}


@dataclass
class Exchange:
    """Every attempt for one msgID of one client, in order."""

    terminal: Terminal
    operation: str
    msg_id: MsgID
    meter: str = ""
    attempts: list[Answer] = field(default_factory=list)

    @property
    def answer(self) -> Answer | None:
        """The first final answer, or None when the bank gave up."""
        return next((a for a in self.attempts if a.final), None)

    @property
    def acknowledged(self) -> list[Answer]:
        """Every vend response (CreditVendResp, VoucherVendResp) this msgID received; a retry
        may get the stored one again. Empty for advice."""
        element = _VEND_RESPONSES.get(self.operation)
        return [a for a in self.attempts if a.kind == "response" and a.element == element]


class Bank:
    """Clients of one bank, all recorded in one journal shared by the whole run."""

    def __init__(self, nodes: Sequence[tuple[str, str]]) -> None:
        self.nodes = list(nodes)  # (name, base_url)
        self.journal: list[Exchange] = []
        self._lock = threading.Lock()

    def record(self, exchange: Exchange) -> Exchange:
        with self._lock:
            self.journal.append(exchange)
        return exchange

    def exchanges(self, operation: str | None = None) -> list[Exchange]:
        with self._lock:
            return [e for e in self.journal if operation is None or e.operation == operation]

    def until_answered(
        self,
        exchange: Exchange,
        body: bytes,
        *,
        first_node: int = 0,
        only_node: int | None = None,
        retry_seconds: float = RETRY_SECONDS,
        timeout: float = ATTEMPT_TIMEOUT,
        source: str | None = None,
        before_retry: Callable[[Answer], None] | None = None,
    ) -> Answer | None:
        """Send until a final answer, the same body (same msgID) every time, alternating
        nodes as a load balancer would (or always `only_node`); bounded in tries and time."""
        deadline = time.monotonic() + retry_seconds
        authorization = exchange.terminal.authorization()
        for attempt in range(MAX_ATTEMPTS):
            index = only_node if only_node is not None else (first_node + attempt) % len(self.nodes)
            name, url = self.nodes[index]
            answer = post(url, name, body, authorization, timeout=timeout, source=source)
            exchange.attempts.append(answer)
            if answer.final or time.monotonic() >= deadline:
                return answer if answer.final else None
            if before_retry is not None:
                before_retry(answer)
            time.sleep(min(0.2 * (attempt + 1), 1.0))
        return None

    def vend(
        self,
        terminal: Terminal,
        meter: str,
        amount: str,
        *,
        msg_id: MsgID | None = None,
        **kwargs: Any,
    ) -> Exchange:
        exchange = self.record(Exchange(terminal, "CreditVend", msg_id or new_msg_id(), meter))
        self.until_answered(
            exchange, credit_vend(terminal, exchange.msg_id, meter, amount), **kwargs
        )
        return exchange

    def redeem(self, terminal: Terminal, meter: str, pin: str, **kwargs: Any) -> Exchange:
        """A USSD platform's VoucherVend, retried to an answer like a vend."""
        exchange = self.record(Exchange(terminal, "VoucherVend", new_msg_id(), meter))
        self.until_answered(exchange, voucher_vend(terminal, exchange.msg_id, meter, pin), **kwargs)
        return exchange

    def advise(
        self, operation: str, terminal: Terminal, original: MsgID, **kwargs: Any
    ) -> Exchange:
        exchange = self.record(Exchange(terminal, operation, new_msg_id()))
        exchange.meter = original.key  # what the advice is about, for failure messages
        self.until_answered(
            exchange, advice(operation, terminal, exchange.msg_id, original), **kwargs
        )
        return exchange


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class LoadResult:
    exchanges: list[Exchange]

    @property
    def unanswered(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.answer is None]

    @property
    def acknowledged(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.acknowledged]

    def first_attempt_latencies(self) -> list[float]:
        return [e.attempts[0].elapsed for e in self.exchanges if e.attempts and e.attempts[0].final]

    def summary(self) -> str:
        lat = self.first_attempt_latencies()
        faults: dict[str, int] = {}
        for e in self.exchanges:
            for a in e.attempts:
                if not a.final:
                    key = a.faultcode or (f"HTTP {a.status}" if a.status else a.detail[:40])
                    faults[key] = faults.get(key, 0) + 1
        refused: dict[str, int] = {}
        for e in self.exchanges:
            if e.answer is not None and e.answer.kind == "fault":
                refused[e.answer.faultcode] = refused.get(e.answer.faultcode, 0) + 1
        p50 = statistics.median(lat) * 1000 if lat else float("nan")
        return (
            f"{len(self.exchanges)} vends, {len(self.acknowledged)} acknowledged, "
            f"{len(self.unanswered)} unanswered; first-attempt p50 {p50:.0f} ms, "
            f"p99 {percentile(lat, 0.99) * 1000:.0f} ms; refused: {refused or 'none'}; "
            f"retried: {faults or 'none'}"
        )


@contextmanager
def vend_load(
    bank: Bank,
    terminal: Terminal,
    meters: Sequence[str],
    *,
    threads: int = 3,
    max_vends: int = 400,
    pause: float = 0.05,
) -> Iterator[LoadResult]:
    """Client threads vending until the block ends (or `max_vends` in all); on the way out the
    threads finish their current msgID (retrying it to an answer) and stop."""
    stop = threading.Event()
    result = LoadResult([])
    lock = threading.Lock()
    amounts = ("10.00", "20.00", "35.50")

    def client(index: int) -> None:
        rng = random.Random(index)
        for n in itertools.count():
            with lock:
                if stop.is_set() or len(result.exchanges) >= max_vends:
                    return
            meter = meters[(index + n * threads) % len(meters)]
            exchange = bank.vend(terminal, meter, rng.choice(amounts), first_node=index + n)
            with lock:
                result.exchanges.append(exchange)
            time.sleep(pause)

    workers = [
        threading.Thread(target=client, args=(i,), name=f"vend-load-{i}", daemon=True)
        for i in range(threads)
    ]
    for w in workers:
        w.start()
    try:
        yield result
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=RETRY_SECONDS + ATTEMPT_TIMEOUT + 5)


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released by one barrier, so they reach the nodes at the same
    instant; returns their results in order (an exception is returned, not raised)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = calls[i]()
        except Exception as exc:  # reported by the caller with the others' results
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=RETRY_SECONDS + ATTEMPT_TIMEOUT + 5)
    return results
