"""The XMLVend 2.1 operations: routed by the Body's root element, whatever the SOAPAction.

Each handler reads what it needs (read.py), calls the vend domain (DatabaseVendingService and
its batch, payment and fault-report functions), and writes the response (write.py). No business
rule lives here: a vend over this door is the same vend as over /vend (same service call, same
idempotency key clientID + msgID, same fingerprint), so a retry over either door replays it.

`OPERATIONS` lists the WSDL's operations: the name real servers give it, the request element and
the response element.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from core.runtime import Runtime
from gateway import errors
from gateway.vend.types import EngineeringResult, MeterDetail, Principal, RequestHeader
from gateway.xmlvend import read, write
from gateway.xmlvend.names import BASE, METER, REVENUE, b, m, r
from gateway.xmlvend.names import type_name as tn
from vendor_accounts.models import Vendor as VendorRow


@dataclass(frozen=True)
class Operation:
    name: str  # the WSDL operation
    request: str  # Clark name of the request element
    response: str


OPERATIONS: tuple[Operation, ...] = (
    Operation("CreditVendRequest", r("creditVendReq"), r("creditVendResp")),
    Operation("TrialCreditVendRequest", r("trialCreditVendReq"), r("trialCreditVendResp")),
    Operation("ConfirmCustomerRequest", r("confirmCustomerReq"), r("confirmCustomerResp")),
    Operation("ReprintRequest", r("reprintReq"), r("reprintResp")),
    Operation("FBERequest", r("fbeReq"), r("fbeResp")),
    Operation("AdviceRequest", b("adviceReq"), b("adviceResp")),
    Operation("VendorStatementRequest", r("vendorStatementReq"), r("vendorStatementResp")),
    Operation("PayAccRequest", r("payAccReq"), r("payAccResp")),
    Operation("StartBatchRequest", r("startBatchReq"), r("startBatchResp")),
    Operation("EndBatchRequest", r("endBatchReq"), r("endBatchResp")),
    Operation("TotalBatchRequest", r("totalBatchReq"), r("totalBatchResp")),
    Operation("ReprintEndBatchRequest", r("reprintEndBatchReq"), r("reprintEndBatchResp")),
    Operation("ConfirmMeterRequest", m("confirmMeterReq"), m("confirmMeterResp")),
    Operation("MeterSpecificEngRequest", m("meterSpecificEngReq"), m("meterSpecificEngResp")),
    Operation(
        "NonMeterSpecificEngRequest", m("nonMeterSpecificEngReq"), m("nonMeterSpecificEngResp")
    ),
    Operation("UpdateMeterKeyRequest", m("updateMeterKeyReq"), m("updateMeterKeyResp")),
    Operation("CustReportFaultRequest", m("custReportFaultReq"), m("custReportFaultResp")),
)

# Standard request elements this gateway does not serve: UseCaseSupportEx, not "unknown".
NOT_SUPPORTED = frozenset(
    {
        "freeIssueReq",
        "cancelVendReq",
        "verifyReq",
        "depositReq",
        "reprintDepReq",
        "meterCreditTransferReq",
    }
)

VENDOR_CACHE_SECONDS = 60.0
STATEMENT_ITEMS = 10


@dataclass(frozen=True)
class Call:
    """One authenticated request whose header speaks for its credentials."""

    who: Principal
    header: RequestHeader
    echo: write.Echo
    element: etree._Element
    kind: str | None  # the root's xsi:type, for the abstract requests


class Edge:
    """What the handlers share: the service, how the utility writes, the vendors' names."""

    def __init__(self, service: Any, runtime: Runtime) -> None:
        settings = runtime.settings
        self.service = service
        self.runtime = runtime
        self.currency = settings.utility.currency
        self.utility = write.Utility(
            name=settings.utility.name,
            address=settings.utility.address,
            tax_ref=settings.utility.tax_ref,
            currency=settings.utility.currency,
            vat_rate_bp=settings.utility.vat_rate_bp,
            server_id=settings.server.server_id,
        )
        self._vendors: dict[int, tuple[float, write.Vendor]] = {}
        self._lock = threading.Lock()

    def vendor(self, who: Principal) -> write.Vendor:
        """The vendor's name for receipts; read at most once a minute per worker."""
        now = time.monotonic()
        with self._lock:
            cached = self._vendors.get(who.vendor_id)
        if cached is not None and now - cached[0] < VENDOR_CACHE_SECONDS:
            return cached[1]
        with self.runtime.sessions() as session:
            row = session.get(VendorRow, who.vendor_id)
            found = write.Vendor(row.name if row is not None else who.client_id)
        with self._lock:
            self._vendors[who.vendor_id] = (now, found)
        return found

    def batches(self, who: Principal) -> write.Batches:
        """The terminal's open batches (banking, sales, shift) for BatchStatus."""
        status = self.service.batch_status(who)
        return write.Batches(
            banking=status.banking is not None,
            sales=status.sales is not None,
            shift=status.shift is not None,
        )

    def domain(self, name: str) -> Callable[..., Any]:
        """A domain function this door calls (gateway/vend: payments, batches, faults...)."""
        function = getattr(self.service, name, None)
        if function is None:
            raise errors.UseCaseSupport(f"{name} is not available on this gateway")
        result: Callable[..., Any] = function
        return result

    def available(self, who: Principal, header: RequestHeader) -> int:
        statement = self.service.vendor_statement(who, header, 0)
        available: int = statement.avail_credit_cents
        return available


def make_call(who: Principal, element: etree._Element) -> Call:
    """The request's header, checked against the credentials it came with."""
    head = read.header(element)
    if head.client_id != who.client_id or head.terminal_id != who.terminal_id:
        raise errors.ClientIDAuthorisation(
            "clientID and terminalID in the request must be those of the HTTP credentials"
        )
    return Call(
        who=who,
        header=RequestHeader(
            client_id=who.client_id,
            terminal_id=who.terminal_id,
            msg_id=head.msg_id,
            operator=head.operator,
        ),
        echo=write.Echo(
            who.client_id, who.terminal_id, head.msg_id, head.unique_number_text, _now()
        ),
        element=element,
        kind=read.xsi_type(element),
    )


def _now() -> datetime:
    return datetime.now(UTC)


# Revenue: vends -------------------------------------------------------------------------------


def _vend(edge: Edge, call: Call, trial: bool) -> etree._Element:
    el = call.element
    read.resource(el)
    meter = read.vend_id_method(read.child(el, "idMethod"))
    value = read.purchase_value(read.child(el, "purchaseValue"), edge.currency)
    pay = read.pay_type(read.optional_child(el, "payType"), edge.currency)
    s = edge.service
    if value.cents is not None:
        vend = s.trial_credit_vend if trial else s.credit_vend
        receipt = vend(call.who, call.header, meter, value.cents, pay)
    else:
        vend = edge.domain("trial_credit_vend_units" if trial else "credit_vend_units")
        receipt = vend(call.who, call.header, meter, value.units_tenths, pay)
    tag, title = (
        (r("trialCreditVendResp"), "TRIAL CREDIT VEND")
        if trial
        else (r("creditVendResp"), "CREDIT VEND - TAX INVOICE")
    )
    return write.credit_vend_resp(
        write.root(tag),
        call.echo,
        edge.utility,
        receipt,
        edge.batches(call.who),
        edge.vendor(call.who),
        title,
    )


def credit_vend(edge: Edge, call: Call) -> etree._Element:
    return _vend(edge, call, trial=False)


def trial_credit_vend(edge: Edge, call: Call) -> etree._Element:
    return _vend(edge, call, trial=True)


def fbe(edge: Edge, call: Call) -> etree._Element:
    read.resource(call.element)
    meter = read.vend_id_method(read.child(call.element, "idMethod"))
    receipt = edge.service.fbe_vend(call.who, call.header, meter)
    return write.credit_vend_resp(
        write.root(r("fbeResp")),
        call.echo,
        edge.utility,
        receipt,
        edge.batches(call.who),
        edge.vendor(call.who),
        "FREE BASIC ELECTRICITY",
    )


def _customer_result(parent: etree._Element, edge: Edge, info: Any) -> None:
    result = write.sub(parent, r("confirmCustResult"))
    write.cust_detail(
        result,
        r("custVendDetail"),
        write.Customer(
            info.customer_name, info.address, info.account_no, info.days_since_last_purchase
        ),
    )
    config = write.sub(result, r("custVendConfig"))
    write.sub(config, r("canVend"), text="true" if info.can_vend else "false")
    write.sub(config, r("fbeDue"), text="true" if info.fbe_due else "false")
    write.currency(config, r("maxVendAmt"), info.max_vend_cents, edge.utility)
    write.currency(config, r("minVendAmt"), info.min_vend_cents, edge.utility)
    write.meter_detail(result, r("meterDetail"), info.meter)


def confirm_customer(edge: Edge, call: Call) -> etree._Element:
    by = read.id_method(read.child(call.element, "idMethod"))
    if by.meter_number is not None:
        infos = (edge.service.confirm_customer(call.who, call.header, by.meter_number),)
    else:
        infos = tuple(
            edge.domain("confirm_customer_by_account")(call.who, call.header, by.account_no)
        )
    resp = write.root(r("confirmCustomerResp"))
    write.base_resp(resp, call.echo, edge.utility, "CONFIRM CUSTOMER")
    for info in infos:
        _customer_result(resp, edge, info)
    return resp


def reprint(edge: Edge, call: Call) -> etree._Element:
    by = read.id_method(read.child(call.element, "idMethod"))
    if by.meter_number is None:
        raise errors.UseCaseSupport("a reprint is asked for by meter (VendIDMethod)")
    receipts = edge.service.reprint(call.who, call.header, by.meter_number, None)
    resp = write.root(r("reprintResp"))
    write.base_resp(resp, call.echo, edge.utility, "REPRINT")
    write.nested_credit_vend_resp(
        resp,
        r("reprint"),
        receipts,
        call.who.client_id,
        call.who.terminal_id,
        edge.utility,
        edge.batches(call.who),
        edge.vendor(call.who),
        "REPRINT - CREDIT VEND - TAX INVOICE",
    )
    return resp


# Advice ---------------------------------------------------------------------------------------


def advice(edge: Edge, call: Call) -> etree._Element:
    original, written = read.msg_id(read.child(call.element, "adviceReqMsgID"))
    s = edge.service

    def answer(kind: str, title: str, attrs: dict[str, str] | None = None) -> etree._Element:
        resp = write.root(b("adviceResp"), tn(BASE, kind), attrs)
        write.base_resp(resp, call.echo, edge.utility, title)
        write.sub(
            resp, b("adviceReqMsgID"), {"dateTime": original.date_time, "uniqueNumber": written}
        )
        return resp

    if call.kind == "ConfirmationAdviceReq":
        result = s.confirmation_advice(call.who, call.header, original)
        return answer(
            "ConfirmationAdviceResp",
            "CONFIRMATION ADVICE",
            {"txConfirmed": "true" if result.confirmed else "false"},
        )
    if call.kind == "ReversalAdviceReq":
        result = s.reversal_advice(call.who, call.header, original)
        return answer(
            "ReversalAdviceResp",
            "REVERSAL ADVICE",
            {"txReversed": "true" if result.reversed else "false"},
        )
    if call.kind == "LastRespAdviceReq":
        receipt = s.last_response_advice(call.who, call.header, original)
        resp = answer("LastRespAdviceResp", "LAST RESPONSE")
        write.nested_credit_vend_resp(
            resp,
            b("lastResponse"),
            (receipt,),
            call.who.client_id,
            call.who.terminal_id,
            edge.utility,
            edge.batches(call.who),
            edge.vendor(call.who),
        )
        return resp
    raise errors.SchemaError(
        "adviceReq needs xsi:type ConfirmationAdviceReq, ReversalAdviceReq or LastRespAdviceReq",
        code="advice-type",
    )


# Vendor ---------------------------------------------------------------------------------------


def vendor_statement(edge: Edge, call: Call) -> etree._Element:
    statement = edge.service.vendor_statement(call.who, call.header, STATEMENT_ITEMS)
    resp = write.root(r("vendorStatementResp"))
    write.base_resp(resp, call.echo, edge.utility, "VENDOR STATEMENT")
    body = write.sub(resp, r("statement"))
    write.sub(body, r("accNo"), text=call.who.client_id)
    write.currency(body, r("accBal"), statement.balance_cents, edge.utility)
    write.currency(body, r("availCredit"), statement.avail_credit_cents, edge.utility)
    for move in statement.movements:
        item = write.sub(body, r("lineItem"))
        write.sub(item, r("desc"), text=write._clip(f"{move.kind} {move.reference}"))
        write.currency(item, r("amt"), move.amount_cents, edge.utility)
        write.sub(item, r("appliedDate"), text=write.timestamp(move.at))
    return resp


def pay_account(edge: Edge, call: Call) -> etree._Element:
    el = call.element
    amount = read.cents(read.child(el, "reqAmt"), edge.currency)
    pay = read.pay_type(read.optional_child(el, "payType"), edge.currency)
    account = read.child(el, "payAccount")
    kind = read.xsi_type(account)
    purposes = {"DebtRecovery": "debt", "ServiceChrg": "service_charge"}
    if kind not in purposes:
        raise errors.SchemaError(
            "payAccount needs xsi:type DebtRecovery or ServiceChrg", code="pay-account"
        )
    by = read.id_method(read.child(account, "idMethod"))
    if by.account_no is None:
        raise errors.UseCaseSupport("an account payment names the account (CustAccountNo)")
    payment = edge.domain("pay_account")(
        call.who, call.header, by.account_no, amount, pay, purposes[kind]
    )
    resp = write.root(r("payAccResp"))
    write.base_resp(resp, call.echo, edge.utility, "PAY ACCOUNT")
    write.vend_resp_fields(
        resp,
        edge.utility,
        payment.avail_credit_cents,
        edge.batches(call.who),
        edge.vendor(call.who),
        write.Customer(payment.customer_name, payment.customer_address, payment.account_no),
    )
    receipt = write.sub(resp, r("payAccReceipt"), {"receiptNo": payment.receipt_no})
    transactions = write.sub(receipt, r("transactions"))
    debt = payment.purpose == "debt"
    tx = write.sub(
        transactions,
        r("tx"),
        {"receiptNo": payment.receipt_no},
        xsi=tn(REVENUE, "DebtRecoveryTx" if debt else "ServiceChrgTx"),
    )
    write.currency(tx, r("amt"), payment.amount_cents, edge.utility)
    write.sub(tx, r("accDesc"), text="Debt payment" if debt else "Service charge payment")
    write.sub(tx, r("accNo"), text=payment.account_no[:20])
    if debt:
        write.currency(tx, r("balance"), payment.debt_after_cents, edge.utility)
    write.currency(transactions, r("tenderAmt"), payment.amount_cents, edge.utility)
    write.currency(transactions, r("change"), 0, edge.utility)
    return resp


# Batches and shifts ---------------------------------------------------------------------------

# The request's xsi:type names the batch: Start<Kind>BatchReq, End..., Total..., ReprintEnd...
_BATCH_KINDS = {"Bank": "banking", "Banking": "banking", "Sales": "sales", "Shift": "shift"}
_BATCH_TYPES = {"banking": "BankBatch", "sales": "SalesBatch", "shift": "ShiftBatch"}
_START_TYPES = {"banking": "BankStartBatch", "sales": "SalesStartBatch", "shift": "ShiftStartBatch"}
_TX_TOTALS = {
    "credit_vend": ("NormalSaleTotal", "Normal sales"),
    "fbe": ("FreeIssueTotal", "Free basic electricity"),
    "free_issue": ("FreeIssueTotal", "Free issues"),
    "reversal": ("CancellationTotal", "Reversals"),
    "payment": ("AccPaymentTotal", "Account payments"),
    "debt": ("DebtRecoveryTotal", "Debt recovery"),
    "service_charge": ("ServiceChrgTotal", "Service charges"),
}
_PAY_TOTALS = {
    "cash": ("CashTotal", "Cash"),
    "cheque": ("ChequeTotal", "Cheque"),
    "creditCard": ("CreditCardTotal", "Credit card"),
    "debitCard": ("DebitCardTotal", "Debit card"),
}


def batch_kind(call: Call, prefix: str) -> str:
    kind = call.kind or ""
    middle = kind.removeprefix(prefix).removesuffix("BatchReq")
    if kind.startswith(prefix) and middle in _BATCH_KINDS:
        return _BATCH_KINDS[middle]
    raise errors.SchemaError(
        f"the request needs xsi:type {prefix}ShiftBatchReq, {prefix}SalesBatchReq or "
        f"{prefix}BankBatchReq",
        code="batch-type",
    )


def _batch(parent: etree._Element, tag: str, report: Any, edge: Edge, ended: datetime) -> None:
    batch = write.sub(
        parent,
        tag,
        {"seqNo": str(report.batch_no)[:20]},
        xsi=tn(REVENUE, _BATCH_TYPES[report.kind]),
    )
    write.sub(batch, r("started"), text=write.timestamp(report.opened_at))
    write.sub(batch, r("ended"), text=write.timestamp(report.closed_at or ended))
    write.currency(batch, r("batchTot"), report.amount_cents, edge.utility)
    lines = tuple(report.totals)
    if not lines:
        return
    summary = write.sub(batch, r("batchReport"))
    by_type: dict[str, int] = {}
    by_operator: dict[str, int] = {}
    by_pay: dict[str, int] = {}
    for line in lines:
        by_type[line.tx_type] = by_type.get(line.tx_type, 0) + line.amount_cents
        by_operator[line.operator] = by_operator.get(line.operator, 0) + line.amount_cents
        by_pay[line.pay_type] = by_pay.get(line.pay_type, 0) + line.amount_cents
    for tx_type, cents in by_type.items():
        if tx_type not in _TX_TOTALS:
            continue  # engineering tokens: no money, no XMLVend total
        kind, desc = _TX_TOTALS[tx_type]
        total = write.sub(summary, r("txTotal"), xsi=tn(REVENUE, kind))
        write.sub(total, r("desc"), text=write._clip(desc))
        write.currency(total, r("amt"), cents, edge.utility)
    for operator, cents in by_operator.items():
        total = write.sub(summary, r("operatorTotal"))
        write.sub(total, r("opName"), text=("".join(operator.split()) or "-")[:10])
        write.currency(total, r("amt"), cents, edge.utility)
    for pay_type, cents in by_pay.items():
        kind, desc = _PAY_TOTALS.get(pay_type, ("OtherTotal", pay_type or "Other"))
        total = write.sub(summary, r("payTypeTotal"), xsi=tn(REVENUE, kind))
        write.sub(total, r("desc"), text=write._clip(desc))
        write.currency(total, r("amt"), cents, edge.utility)


def start_batch(edge: Edge, call: Call) -> etree._Element:
    kind = batch_kind(call, "Start")
    info = edge.domain("start_batch")(call.who, call.header, kind)
    resp = write.root(r("startBatchResp"))
    write.base_resp(resp, call.echo, edge.utility, f"{kind.upper()} BATCH STARTED")
    started = write.sub(
        resp,
        r("startedBatch"),
        {"seqNo": str(info.batch_no)[:20]},
        xsi=tn(REVENUE, _START_TYPES[info.kind]),
    )
    write.sub(started, r("started"), text=write.timestamp(info.opened_at))
    return resp


def end_batch(edge: Edge, call: Call) -> etree._Element:
    kind = batch_kind(call, "End")
    report = edge.domain("end_batch")(call.who, call.header, kind)
    resp = write.root(r("endBatchResp"))
    write.base_resp(resp, call.echo, edge.utility, f"{kind.upper()} BATCH ENDED")
    _batch(resp, r("endBatch"), report, edge, call.echo.at)
    return resp


def total_batch(edge: Edge, call: Call) -> etree._Element:
    kind = batch_kind(call, "Total")
    report = edge.domain("total_batch")(call.who, call.header, kind)
    resp = write.root(r("totalBatchResp"))
    write.base_resp(resp, call.echo, edge.utility, f"{kind.upper()} BATCH TOTALS")
    _batch(resp, r("totalBatch"), report, edge, call.echo.at)
    return resp


def reprint_end_batch(edge: Edge, call: Call) -> etree._Element:
    kind = batch_kind(call, "ReprintEnd")
    seq = read.optional_child(call.element, "seqNo")
    batch_no = read.text(seq) if seq is not None and read.text(seq) else None
    report = edge.domain("reprint_end_batch")(call.who, call.header, kind, batch_no)
    resp = write.root(r("reprintEndBatchResp"))
    write.base_resp(resp, call.echo, edge.utility, f"REPRINT {kind.upper()} BATCH")
    inner = write.sub(resp, r("endBatchReprint"))
    write.base_resp(inner, call.echo, edge.utility, f"{kind.upper()} BATCH ENDED")
    _batch(inner, r("endBatch"), report, edge, call.echo.at)
    return resp


# Meter domain ---------------------------------------------------------------------------------


def confirm_meter(edge: Edge, call: Call) -> etree._Element:
    meter = read.vend_id_method(read.child(call.element, "idMethod"))
    info = edge.service.confirm_customer(call.who, call.header, meter)
    resp = write.root(m("confirmMeterResp"))
    write.base_resp(resp, call.echo, edge.utility, "CONFIRM METER")
    result = write.sub(resp, m("confirmMeterResult"))
    write.meter_detail(result, m("meterDetail"), info.meter)
    return resp


# meterSpecificEngReq's xsi:type -> (engType of the service, response type, its element)
_METER_ENG = {
    "ClearTamperReq": ("ClearTamper", "ClearTamperResp", "clearTamper"),
    "ClearCreditReq": ("ClearCredit", "ClearCreditResp", "clearCredit"),
    "PwrLmtReq": ("PowerLimit", "PwrLmtResp", "pwrLmtToken"),
    "PhUnbalReq": ("PhaseUnbalance", "PhUnbalResp", "phUnbalance"),
    "EngKCTReq": ("KeyChange", "EngKCTResp", "engKCToken"),
}
_NON_METER_ENG = {
    "TestAllReq": ("TestAll", "TestAllResp", "testAll"),
    "TestBreakerReq": ("TestBreaker", "TestBreakerResp", "testBreaker"),
    "TestDisplayReq": ("TestDisplay", "TestDisplayResp", "testDisp"),
    "DispPwrLmtReq": ("DispPwrLmt", "DispPwrLmtResp", "dispPwrLmt"),
    "DispTIReq": ("DispTI", "DispTIResp", "dispTI"),
    "DispKRNReq": ("DispKRN", "DispKRNResp", "dispKRN"),
    "DispTamperReq": ("DispTamper", "DispTamperResp", "dispTamper"),
    "DispInstPwrReq": ("DispInstPwr", "DispInstPwrResp", "dispInstPwr"),
    "DispConsTotReq": ("DispConsTot", "DispConsTotResp", "dispConsTot"),
    "DispPhUnbalanceReq": ("DispPhUnbalance", "DispPhUnbalanceResp", "dispPhUnbalance"),
    "DispVerReq": ("DispVer", "DispVerResp", "dispVer"),
}


def _pwr_lmt_text(watts: int) -> str:
    """PwrLmtValue is kW with one decimal (ddd.d): 5000 W -> '5.0'."""
    tenths = max(0, min(9999, round(watts / 100)))
    return f"{tenths // 10}.{tenths % 10}"


def meter_specific_eng(edge: Edge, call: Call) -> etree._Element:
    spec = _METER_ENG.get(call.kind or "")
    if spec is None:
        raise errors.UseCaseSupport(
            f"meterSpecificEngReq of type {call.kind} is not supported; use one of "
            + ", ".join(_METER_ENG)
        )
    eng_type, resp_type, tag = spec
    el = call.element
    read.resource(el)
    meter = read.vend_id_method(read.child(el, "idMethod"))
    value = None
    if eng_type in ("PowerLimit", "PhaseUnbalance"):
        value = read.power_limit_watts(read.child(el, "pwrLmt"))
    key_change = None
    if eng_type == "KeyChange":
        kct = read.child(el, "kctData")
        key_change = edge.service.update_meter_key(
            call.who,
            call.header,
            meter,
            read.attribute(kct, "toSGC"),
            int(read.attribute(kct, "toKRN")),
            read.attribute(kct, "toTI"),
        )
        result = None
    else:
        result = edge.service.meter_specific_eng(call.who, call.header, meter, eng_type, value)
    resp = write.root(m("meterSpecificEngResp"), tn(METER, resp_type))
    write.base_resp(resp, call.echo, edge.utility, eng_type.upper())
    detail = key_change.meter if key_change is not None else result.meter  # type: ignore[union-attr]
    write.vend_resp_fields(
        resp,
        edge.utility,
        edge.available(call.who, call.header),
        edge.batches(call.who),
        edge.vendor(call.who),
        None,
    )
    if key_change is not None:
        _key_change_issue(resp, m(tag), key_change)
        return resp
    assert result is not None
    _eng_issue(resp, m(tag), result, detail, value if eng_type != "ClearCredit" else None)
    return resp


def _eng_issue(
    parent: etree._Element,
    tag: str,
    result: EngineeringResult,
    meter: MeterDetail | None,
    watts: int | None,
) -> None:
    issue = write.sub(parent, tag)
    write.sub(issue, b("desc"), text=write._clip(result.description))
    if meter is not None:
        write.meter_detail(issue, b("meterDetail"), meter)
    write.sts_token(issue, b("token"), result.tokens[0])
    if watts is not None:
        write.sub(issue, b("pwrLmt"), {"value": _pwr_lmt_text(watts), "siUnit": "kW"})


def _key_change_issue(parent: etree._Element, tag: str, change: Any) -> None:
    before = MeterDetail(
        meter_number=change.meter.meter_number,
        sgc=change.from_sgc,
        krn=change.from_krn,
        ti=change.from_ti,
        ea=change.meter.ea,
        kt=change.meter.kt,
        tct=change.meter.tct,
    )
    write.key_change_issue(
        parent, tag, "Key change: enter both tokens in order", change.meter, change.tokens, before
    )


def non_meter_specific_eng(edge: Edge, call: Call) -> etree._Element:
    spec = _NON_METER_ENG.get(call.kind or "")
    if spec is None:
        raise errors.UseCaseSupport(
            f"nonMeterSpecificEngReq of type {call.kind} is not supported; use one of "
            + ", ".join(_NON_METER_ENG)
        )
    eng_type, resp_type, tag = spec
    meter_type = read.child(call.element, "meterType")
    result = edge.service.non_meter_specific_eng(
        call.who, call.header, eng_type, read.manufacturer_code(call.element)
    )
    resp = write.root(m("nonMeterSpecificEngResp"), tn(METER, resp_type))
    write.base_resp(resp, call.echo, edge.utility, eng_type.upper())
    # NonMeterSpecificTokenIssue is a meter-domain type: its children are in that namespace.
    issue = write.sub(resp, m(tag))
    write.sub(issue, m("desc"), text=write._clip(result.description))
    write.sub(
        issue,
        m("meterType"),
        {"at": meter_type.get("at") or "07", "tt": meter_type.get("tt") or "02"},
    )
    write.sts_token(issue, m("token"), result.tokens[0])
    return resp


def update_meter_key(edge: Edge, call: Call) -> etree._Element:
    # The MeterConfig names the meter and, as a MeterDetail, the key data to move it to
    # (a bare MeterNumber keeps each: UpdateMtrKeySameEx).
    config = read.child(call.element, "idMethod")
    meter = read.meter_identifier(config)
    krn = config.get("krn")
    change = edge.service.update_meter_key(
        call.who,
        call.header,
        meter,
        config.get("sgc"),
        int(krn) if krn is not None and krn.strip().isdigit() else None,
        config.get("ti"),
    )
    resp = write.root(m("updateMeterKeyResp"))
    write.base_resp(resp, call.echo, edge.utility, "UPDATE METER KEY")
    write.vend_resp_fields(
        resp,
        edge.utility,
        edge.available(call.who, call.header),
        edge.batches(call.who),
        edge.vendor(call.who),
        None,
    )
    _key_change_issue(resp, m("updateMeterKey"), change)
    return resp


def cust_report_fault(edge: Edge, call: Call) -> etree._Element:
    el = call.element
    customer = read.child(el, "custDetail")
    report = read.child(el, "custFaultReport")
    kind = read.xsi_type(report)
    info = read.optional_child(report, "meterInfo")
    if kind is None:
        kind = "MeterFaultReport" if info is not None else "NetworkFaultReport"
    if kind not in ("MeterFaultReport", "NetworkFaultReport"):
        raise errors.SchemaError(
            "custFaultReport needs xsi:type MeterFaultReport or NetworkFaultReport",
            code="fault-report",
        )
    meter = read.vend_id_method(info) if kind == "MeterFaultReport" and info is not None else None
    if kind == "MeterFaultReport" and meter is None:
        raise errors.SchemaError("a MeterFaultReport names the meter (meterInfo)", code="meter")
    desc = read.optional_child(report, "desc")
    description = read.text(desc) if desc is not None else ""
    account = customer.get("accNo") or None
    contact = customer.get("contactNo") or ""
    logged = edge.domain("report_fault")(
        call.who,
        call.header,
        meter,
        account,
        "meter" if kind == "MeterFaultReport" else "network",
        description,
        contact,
    )
    resp = write.root(m("custReportFaultResp"))
    write.base_resp(resp, call.echo, edge.utility, "FAULT LOGGED")
    log = write.sub(resp, m("custFaultLog"), {"refNo": str(logged.ref_no)[:20]})
    attrs = {
        "name": write.person_name(customer.get("name") or ""),
        "address": write._clip(customer.get("address") or "", 80),
    }
    if contact and 7 <= len(contact) <= 12 and " " not in contact:
        attrs["contactNo"] = contact
    if account and len(account) <= 20 and " " not in account:
        attrs["accNo"] = account
    write.sub(log, m("custDetail"), attrs)
    echoed = write.sub(log, m("faultReport"), xsi=tn(METER, kind))
    if description:
        write.sub(echoed, m("desc"), text=write._clip(description))
    if meter is not None:
        where = write.sub(echoed, m("meterInfo"))
        write.sub(where, b("meterIdentifier"), {"msno": meter}, xsi=tn(BASE, "MeterNumber"))
    return resp


Handler = Callable[[Edge, Call], etree._Element]

HANDLERS: dict[str, Handler] = {
    r("creditVendReq"): credit_vend,
    r("trialCreditVendReq"): trial_credit_vend,
    r("confirmCustomerReq"): confirm_customer,
    r("reprintReq"): reprint,
    r("fbeReq"): fbe,
    b("adviceReq"): advice,
    r("vendorStatementReq"): vendor_statement,
    r("payAccReq"): pay_account,
    r("startBatchReq"): start_batch,
    r("endBatchReq"): end_batch,
    r("totalBatchReq"): total_batch,
    r("reprintEndBatchReq"): reprint_end_batch,
    m("confirmMeterReq"): confirm_meter,
    m("meterSpecificEngReq"): meter_specific_eng,
    m("nonMeterSpecificEngReq"): non_meter_specific_eng,
    m("updateMeterKeyReq"): update_meter_key,
    m("custReportFaultReq"): cust_report_fault,
}
# Lenient routing: a request element in the wrong one of the three namespaces still arrives.
_BY_LOCAL = {read.local(tag): handler for tag, handler in HANDLERS.items()}


def route(element: etree._Element) -> Handler:
    handler = HANDLERS.get(element.tag)
    name = read.local(element.tag)
    namespace = etree.QName(element).namespace
    if handler is None and (namespace is None or namespace in (BASE, METER, REVENUE)):
        handler = _BY_LOCAL.get(name)
    if handler is not None:
        return handler
    if name in NOT_SUPPORTED:
        raise errors.UseCaseSupport(f"{name} is not supported by this gateway")
    raise errors.SchemaError(
        f"{name[:60]} is not an XMLVend 2.1 request this endpoint serves", code="unknown-request"
    )
