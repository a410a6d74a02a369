"""The values that cross between the SOAP edge and the vend path.

Plain frozen dataclasses: the SOAP layer builds a `RequestHeader` and the operation's arguments
from XML, calls `VendingService`, and turns the returned values into XML. Money is cents, energy
0.1 kWh, tokens 20-digit strings without spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from gateway.errors import SchemaError
from vendor_accounts.credentials import TerminalPrincipal

_MSG_DATETIME = re.compile(r"[0-9]{14}")


@dataclass(frozen=True)
class MsgID:
    """XMLVend msgID: a 14-digit local date-time (yyyyMMddHHmmss) and a unique number.

    Unique per clientID for ever; (clientID, msgID) is the idempotency key of a request."""

    date_time: str
    unique_number: int

    def __post_init__(self) -> None:
        if not _MSG_DATETIME.fullmatch(self.date_time):
            raise SchemaError(
                "msgID dateTime must be 14 digits yyyyMMddHHmmss",
                code="msg-id",
                value=self.date_time,
            )
        try:
            datetime.strptime(self.date_time, "%Y%m%d%H%M%S")
        except ValueError:
            raise SchemaError(
                "msgID dateTime is not a valid date and time", code="msg-id", value=self.date_time
            ) from None
        if not 0 < self.unique_number < 10**18:
            raise SchemaError(
                "msgID uniqueNumber must be a positive integer",
                code="msg-id",
                value=self.unique_number,
            )

    @property
    def key(self) -> str:
        """The form vendors write in reports: dateTime then uniqueNumber in plain decimal."""
        return f"{self.date_time}{self.unique_number}"


@dataclass(frozen=True)
class RequestHeader:
    """Who is asking (already authenticated against HTTP Basic credentials) and the request id."""

    client_id: str
    terminal_id: str
    msg_id: MsgID
    operator: str = ""


# The authenticated terminal a request comes from: vendor_accounts' one principal type, under
# the name the vend path has always used for it.
Principal = TerminalPrincipal


@dataclass(frozen=True)
class MeterDetail:
    meter_number: str
    sgc: str
    krn: int
    ti: str
    ea: str
    kt: int
    tct: str


@dataclass(frozen=True)
class CustomerInfo:
    """ConfirmCustomer's answer."""

    meter: MeterDetail
    customer_name: str
    address: str
    account_no: str
    days_since_last_purchase: int | None
    can_vend: bool
    fbe_due: bool
    min_vend_cents: int
    max_vend_cents: int
    arrears_cents: int


@dataclass(frozen=True)
class ReceiptLine:
    """One transaction of a receipt: credit, fbe, keychange, debt or fixed_charge."""

    type: str
    description: str
    amount_cents: int = 0
    vat_cents: int = 0
    units_tenths: int = 0
    tokens: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyChangeData:
    """The key data a receipt's key-change tokens move the meter from and to (XMLVend's
    kctData): kept with the receipt, since the meter it shows is the one after the change."""

    from_sgc: str
    from_krn: int
    from_ti: str
    from_kt: int
    to_sgc: str
    to_krn: int
    to_ti: str
    to_kt: int


@dataclass(frozen=True)
class VendReceipt:
    """What CreditVend, TrialCreditVend, FBEVend, Reprint and LastResponseAdvice answer.

    `customer_address` and `key_change` are as at the vend; a receipt stored before they were
    kept has "" and None (see gateway/vend/receipts.py)."""

    receipt_no: str
    msg_id: MsgID
    meter: MeterDetail
    customer_name: str
    account_no: str
    tender_cents: int
    units_tenths: int
    avail_credit_cents: int
    tariff_description: str
    issued_at: datetime
    lines: tuple[ReceiptLine, ...] = field(default_factory=tuple)
    reversed: bool = False
    customer_address: str = ""
    key_change: KeyChangeData | None = None  # the keychange line's from and to key data


@dataclass(frozen=True)
class Movement:
    at: datetime
    kind: str
    reference: str
    amount_cents: int
    balance_after_cents: int


@dataclass(frozen=True)
class VendorStatement:
    balance_cents: int
    floor_cents: int
    avail_credit_cents: int
    movements: tuple[Movement, ...]


@dataclass(frozen=True)
class AdviceResult:
    """Confirmation and reversal advice answers."""

    original_msg_id: MsgID
    receipt_no: str
    confirmed: bool = False
    reversed: bool = False
    avail_credit_cents: int | None = None


@dataclass(frozen=True)
class EngineeringResult:
    description: str
    tokens: tuple[str, ...]
    meter: MeterDetail | None = None


@dataclass(frozen=True)
class KeyChangeResult:
    """UpdateMeterKey's answer: the meter as it now stands and the two key change tokens."""

    meter: MeterDetail
    from_sgc: str
    from_krn: int
    from_ti: str
    to_sgc: str
    to_krn: int
    to_ti: str
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class AccountPayment:
    """PayAccount's answer: a debt or service charge payment, no token."""

    receipt_no: str
    msg_id: MsgID
    account_no: str
    customer_name: str
    purpose: str  # debt | service_charge
    amount_cents: int
    debt_before_cents: int
    debt_after_cents: int
    avail_credit_cents: int
    issued_at: datetime
    # The customer's address at the payment ("" in answers stored before it was kept).
    customer_address: str = ""


@dataclass(frozen=True)
class FaultReport:
    """CustReportFault's answer: the report as stored, with its reference number."""

    ref_no: str
    msg_id: MsgID
    meter_number: str | None
    account_no: str | None
    fault_kind: str
    description: str
    contact: str
    reported_at: datetime


BATCH_KINDS = ("banking", "sales", "shift")


@dataclass(frozen=True)
class BatchInfo:
    """A batch just opened."""

    kind: str  # banking | sales | shift
    batch_no: str
    terminal_id: str
    opened_at: datetime


@dataclass(frozen=True)
class BatchLine:
    """One total of a batch: the transactions of one type, operator and pay type."""

    tx_type: str  # credit_vend | fbe | engineering | payment | reversal
    operator: str
    pay_type: str
    count: int
    amount_cents: int  # a reversal's is negative: what it gave back


@dataclass(frozen=True)
class BatchReport:
    """A batch's totals: of a closed batch (end, reprint) or of the open one so far (total)."""

    kind: str
    batch_no: str
    terminal_id: str
    opened_at: datetime
    closed_at: datetime | None
    totals: tuple[BatchLine, ...]
    count: int
    amount_cents: int


@dataclass(frozen=True)
class BatchStatus:
    """The open batch numbers of a terminal (every vend response carries them)."""

    banking: str | None = None
    sales: str | None = None
    shift: str | None = None


class VendingService(Protocol):
    """The gateway's operations, one per XMLVend request. Each raises a `GatewayError` subtype
    for a refusal; a refused request changes nothing."""

    def confirm_customer(
        self, who: Principal, header: RequestHeader, meter_number: str
    ) -> CustomerInfo: ...

    def credit_vend(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        amount_cents: int,
        pay_type: str,
    ) -> VendReceipt: ...

    def trial_credit_vend(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        amount_cents: int,
        pay_type: str,
    ) -> VendReceipt: ...

    def fbe_vend(self, who: Principal, header: RequestHeader, meter_number: str) -> VendReceipt: ...

    def reprint(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        original_msg_id: MsgID | None,
    ) -> tuple[VendReceipt, ...]: ...

    def confirmation_advice(
        self, who: Principal, header: RequestHeader, original_msg_id: MsgID
    ) -> AdviceResult: ...

    def reversal_advice(
        self, who: Principal, header: RequestHeader, original_msg_id: MsgID
    ) -> AdviceResult: ...

    def last_response_advice(
        self, who: Principal, header: RequestHeader, original_msg_id: MsgID
    ) -> VendReceipt: ...

    def vendor_statement(
        self, who: Principal, header: RequestHeader, max_items: int
    ) -> VendorStatement: ...

    def meter_specific_eng(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        eng_type: str,
        value: int | None,
    ) -> EngineeringResult: ...

    def non_meter_specific_eng(
        self, who: Principal, header: RequestHeader, eng_type: str, mfr_code: int | None
    ) -> EngineeringResult: ...

    # -- XMLVend 2.1 (issue 14) --------------------------------------------------------------

    def confirm_customer_by_account(
        self, who: Principal, header: RequestHeader, account_no: str
    ) -> tuple[CustomerInfo, ...]: ...

    def credit_vend_units(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        units_tenths: int,
        pay_type: str,
    ) -> VendReceipt: ...

    def trial_credit_vend_units(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        units_tenths: int,
        pay_type: str,
    ) -> VendReceipt: ...

    def update_meter_key(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str,
        to_sgc: str | None,
        to_krn: int | None,
        to_ti: str | None,
    ) -> KeyChangeResult: ...

    def pay_account(
        self,
        who: Principal,
        header: RequestHeader,
        account_no: str,
        amount_cents: int,
        pay_type: str,
        purpose: str,
    ) -> AccountPayment: ...

    def report_fault(
        self,
        who: Principal,
        header: RequestHeader,
        meter_number: str | None,
        account_no: str | None,
        fault_kind: str,
        description: str,
        contact: str,
    ) -> FaultReport: ...

    def batch_status(self, who: Principal) -> BatchStatus: ...

    def start_batch(self, who: Principal, header: RequestHeader, kind: str) -> BatchInfo: ...

    def end_batch(self, who: Principal, header: RequestHeader, kind: str) -> BatchReport: ...

    def total_batch(self, who: Principal, header: RequestHeader, kind: str) -> BatchReport: ...

    def reprint_end_batch(
        self, who: Principal, header: RequestHeader, kind: str, batch_no: str | None
    ) -> BatchReport: ...


class VoucherRedemption(Protocol):
    """Redeeming a scratch-card voucher (VoucherVend): the receipt of a vend of its face value,
    funded by the voucher liability; VoucherInvalid, VoucherUsed or RequestAuthorisation
    (no redeem privilege, the guessing limit) otherwise."""

    def voucher_vend(
        self, who: Principal, header: RequestHeader, meter_number: str, pin: str
    ) -> VendReceipt: ...
