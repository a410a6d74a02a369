"""Every refusal of the vendor-accounts package, as one tree with the details kept as attributes.

Callers branch on the class (or on the stable ``code``) and read the figures from attributes, so
the SOAP layer can say "available 12.50" without parsing a message::

    VendorAccountsError                code
     ├── InvalidInput                  field, value
     │    ├── InvalidClientId          (length, digits or EAN-13 check digit)
     │    └── InvalidSplit             (a VendSplit whose parts do not make up the tender)
     ├── NotFound
     │    ├── UnknownVendor            client_id, vendor_id
     │    ├── UnknownTerminal          client_id, terminal_code
     │    └── UnknownEntry             journal_entry_id
     ├── Conflict
     │    ├── DuplicateVendor          client_id
     │    ├── DuplicateTerminal        client_id, terminal_code
     │    ├── DepositConflict          bank_reference, original_amount_cents, amount_cents
     │    └── NotReversible            journal_entry_id, kind
     ├── AuthenticationError           client_id, terminal_code   (authenticate_terminal only)
     │    ├── ClientNotFound           no vendor has this clientID
     │    ├── TerminalNotFound         the vendor has no terminal with this terminalID
     │    ├── WrongSecret
     │    ├── VendorNotActive          vendor_status ('suspended' or 'closed')
     │    ├── TerminalDisabled
     │    ├── AddressNotAllowed        source_ip
     │    ├── MalformedCredentials     (NUL, control or undecodable bytes; the SOAP edge)
     │    ├── LoginThrottled           retry_after (too many failures from this address)
     │    └── VerifierBusy             retry_after (argon2 checks at their bound; not a failure)
     └── DebitRefused                  vendor_id, amount_cents, and the float's figures:
          │                            balance, floor, available, daily cap, used today
          │                            (post_vend/adjust/debit_refusal; no change)
          ├── InsufficientFloat        balance_cents, floor_cents, available_cents
          ├── VendorSuspended          status ('suspended' or 'closed')
          └── DailyCapExceeded         cap_cents, used_cents, remaining_cents

Database and library errors are translated into these in one place each (the float debit and
the credential check); anything else that escapes is a bug, not a business refusal.
"""

from __future__ import annotations

from typing import ClassVar


class VendorAccountsError(Exception):
    """Root of the package's errors; ``code`` is stable, the message is for people."""

    code: ClassVar[str] = "vendor-accounts"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(VendorAccountsError):
    code = "invalid-input"

    def __init__(self, message: str, *, field: str, value: object) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class InvalidClientId(InvalidInput):
    code = "invalid-client-id"


class InvalidSplit(InvalidInput):
    code = "invalid-split"


class NotFound(VendorAccountsError):
    code = "not-found"


class UnknownVendor(NotFound):
    code = "unknown-vendor"

    def __init__(self, *, client_id: str | None = None, vendor_id: int | None = None) -> None:
        who = client_id if client_id is not None else f"id {vendor_id}"
        super().__init__(f"no vendor {who}")
        self.client_id = client_id
        self.vendor_id = vendor_id


class UnknownTerminal(NotFound):
    code = "unknown-terminal"

    def __init__(self, *, client_id: str, terminal_code: str) -> None:
        super().__init__(f"vendor {client_id} has no terminal {terminal_code!r}")
        self.client_id = client_id
        self.terminal_code = terminal_code


class UnknownEntry(NotFound):
    code = "unknown-entry"

    def __init__(self, journal_entry_id: int) -> None:
        super().__init__(f"no journal entry {journal_entry_id}")
        self.journal_entry_id = journal_entry_id


class Conflict(VendorAccountsError):
    code = "conflict"


class DuplicateVendor(Conflict):
    code = "duplicate-vendor"

    def __init__(self, client_id: str) -> None:
        super().__init__(f"vendor {client_id} already exists")
        self.client_id = client_id


class DuplicateTerminal(Conflict):
    code = "duplicate-terminal"

    def __init__(self, *, client_id: str, terminal_code: str) -> None:
        super().__init__(f"vendor {client_id} already has a terminal {terminal_code!r}")
        self.client_id = client_id
        self.terminal_code = terminal_code


class DepositConflict(Conflict):
    """The bank reference was already used for a deposit of a different amount."""

    code = "deposit-conflict"

    def __init__(
        self,
        *,
        bank_reference: str,
        original_amount_cents: int,
        amount_cents: int,
        journal_entry_id: int,
    ) -> None:
        super().__init__(
            f"bank reference {bank_reference!r} was already deposited with amount "
            f"{original_amount_cents} cents (entry {journal_entry_id}), not {amount_cents}"
        )
        self.bank_reference = bank_reference
        self.original_amount_cents = original_amount_cents
        self.amount_cents = amount_cents
        self.journal_entry_id = journal_entry_id


class NotReversible(Conflict):
    code = "not-reversible"

    def __init__(self, *, journal_entry_id: int, kind: str) -> None:
        super().__init__(f"journal entry {journal_entry_id} is a {kind}, only vends are reversed")
        self.journal_entry_id = journal_entry_id
        self.kind = kind


class AuthenticationError(VendorAccountsError):
    """The terminal may not make this request; the SOAP layer may collapse these into one fault."""

    code = "authentication"

    def __init__(self, message: str, *, client_id: str, terminal_code: str) -> None:
        super().__init__(message)
        self.client_id = client_id
        self.terminal_code = terminal_code


class ClientNotFound(AuthenticationError):
    code = "auth-unknown-client"


class TerminalNotFound(AuthenticationError):
    code = "auth-unknown-terminal"


class WrongSecret(AuthenticationError):
    code = "auth-wrong-secret"


class VendorNotActive(AuthenticationError):
    code = "auth-vendor-not-active"

    def __init__(
        self, message: str, *, client_id: str, terminal_code: str, vendor_status: str
    ) -> None:
        super().__init__(message, client_id=client_id, terminal_code=terminal_code)
        self.vendor_status = vendor_status


class TerminalDisabled(AuthenticationError):
    code = "auth-terminal-disabled"


class AddressNotAllowed(AuthenticationError):
    code = "auth-address-not-allowed"

    def __init__(self, message: str, *, client_id: str, terminal_code: str, source_ip: str) -> None:
        super().__init__(message, client_id=client_id, terminal_code=terminal_code)
        self.source_ip = source_ip


class MalformedCredentials(AuthenticationError):
    code = "auth-malformed-credentials"


class LoginThrottled(AuthenticationError):
    """Too many recent failures of this (clientID, terminalID) from this source address."""

    code = "auth-throttled"

    def __init__(
        self, message: str, *, client_id: str, terminal_code: str, retry_after: float
    ) -> None:
        super().__init__(message, client_id=client_id, terminal_code=terminal_code)
        self.retry_after = retry_after


class VerifierBusy(AuthenticationError):
    """Every argon2 slot of this process is taken: try again shortly (nothing was checked)."""

    code = "auth-verifier-busy"

    def __init__(
        self, message: str, *, client_id: str, terminal_code: str, retry_after: float = 1.0
    ) -> None:
        super().__init__(message, client_id=client_id, terminal_code=terminal_code)
        self.retry_after = retry_after


class DebitRefused(VendorAccountsError):
    """The float was not debited; the caller's transaction holds no change from the attempt.

    Every refusal carries the float's figures as the refusal check read them (None when not
    read): ``balance_cents``, ``floor_cents``, ``available_cents``, ``daily_cap_cents`` (None:
    no cap) and ``used_today_cents``, so a client is told what it may still sell."""

    code = "debit-refused"

    def __init__(
        self,
        message: str,
        *,
        vendor_id: int,
        amount_cents: int,
        balance_cents: int | None = None,
        floor_cents: int | None = None,
        daily_cap_cents: int | None = None,
        used_today_cents: int | None = None,
    ) -> None:
        super().__init__(message)
        self.vendor_id = vendor_id
        self.amount_cents = amount_cents
        self.balance_cents = balance_cents
        self.floor_cents = floor_cents
        self.available_cents = (
            None
            if balance_cents is None or floor_cents is None
            else max(balance_cents - floor_cents, 0)
        )
        self.daily_cap_cents = daily_cap_cents
        self.used_today_cents = used_today_cents


class InsufficientFloat(DebitRefused):
    code = "insufficient-float"
    available_cents: int
    balance_cents: int
    floor_cents: int

    def __init__(
        self,
        *,
        vendor_id: int,
        amount_cents: int,
        balance_cents: int,
        floor_cents: int,
        daily_cap_cents: int | None = None,
        used_today_cents: int | None = None,
    ) -> None:
        available = max(balance_cents - floor_cents, 0)
        super().__init__(
            f"vendor {vendor_id}: {amount_cents} cents asked, {available} available",
            vendor_id=vendor_id,
            amount_cents=amount_cents,
            balance_cents=balance_cents,
            floor_cents=floor_cents,
            daily_cap_cents=daily_cap_cents,
            used_today_cents=used_today_cents,
        )


class VendorSuspended(DebitRefused):
    """Raised for any vendor that is not active (``status`` says suspended or closed)."""

    code = "vendor-suspended"

    def __init__(
        self,
        *,
        vendor_id: int,
        amount_cents: int,
        status: str,
        balance_cents: int | None = None,
        floor_cents: int | None = None,
        daily_cap_cents: int | None = None,
        used_today_cents: int | None = None,
    ) -> None:
        super().__init__(
            f"vendor {vendor_id} is {status}",
            vendor_id=vendor_id,
            amount_cents=amount_cents,
            balance_cents=balance_cents,
            floor_cents=floor_cents,
            daily_cap_cents=daily_cap_cents,
            used_today_cents=used_today_cents,
        )
        self.status = status


class DailyCapExceeded(DebitRefused):
    code = "daily-cap-exceeded"

    def __init__(
        self,
        *,
        vendor_id: int,
        amount_cents: int,
        cap_cents: int,
        used_cents: int,
        balance_cents: int | None = None,
        floor_cents: int | None = None,
    ) -> None:
        self.cap_cents = cap_cents
        self.used_cents = used_cents
        self.remaining_cents = max(cap_cents - used_cents, 0)
        super().__init__(
            f"vendor {vendor_id}: {amount_cents} cents asked, {self.remaining_cents} left of "
            f"today's cap {cap_cents}",
            vendor_id=vendor_id,
            amount_cents=amount_cents,
            balance_cents=balance_cents,
            floor_cents=floor_cents,
            daily_cap_cents=cap_cents,
            used_today_cents=used_cents,
        )
