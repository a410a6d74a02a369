"""The package's public API is pinned: the vend path and the SOAP layer code against it."""

from __future__ import annotations

import inspect

import vendor_accounts
from vendor_accounts import exceptions

EXPECTED = {
    "AddressNotAllowed",
    "AuthenticationError",
    "ClientNotFound",
    "CommissionRate",
    "Conflict",
    "DailyCapExceeded",
    "DebitRefused",
    "DepositConflict",
    "DuplicateTerminal",
    "DuplicateVendor",
    "FloatBalance",
    "FloatMovement",
    "InsufficientFloat",
    "InvalidClientId",
    "InvalidInput",
    "InvalidSplit",
    "LedgerProblem",
    "NotFound",
    "NotReversible",
    "Statement",
    "StatementLine",
    "TerminalDisabled",
    "TerminalNotFound",
    "TerminalPrincipal",
    "TerminalSummary",
    "UnknownEntry",
    "UnknownTerminal",
    "UnknownVendor",
    "VendPosting",
    "VendSplit",
    "VendorAccountsError",
    "VendorNotActive",
    "VendorSummary",
    "VendorSuspended",
    "VerificationCache",
    "WrongSecret",
    "add_terminal",
    "add_vendor",
    "adjust",
    "authenticate_terminal",
    "balance",
    "check_invariants",
    "commission_cents",
    "deposit",
    "ean13_check_digit",
    "get_terminal",
    "get_vendor",
    "list_terminals",
    "list_vendors",
    "post_vend",
    "recent_movements",
    "reverse_vend",
    "rotate_secret",
    "set_allowed_addresses",
    "set_terminal_status",
    "set_vendor_status",
    "statement",
    "validate_client_id",
}


def test_exported_members():
    assert set(vendor_accounts.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(vendor_accounts, name) is not None


def test_the_vend_path_signatures():
    params = inspect.signature(vendor_accounts.post_vend).parameters
    assert list(params) == [
        "session",
        "vendor_id",
        "amount_cents",
        "split",
        "reference",
        "at",
        "units_tenths",
        "timezone",
        "rate",
    ]
    assert all(p.kind is p.KEYWORD_ONLY for name, p in params.items() if name != "session")
    assert list(inspect.signature(vendor_accounts.reverse_vend).parameters) == [
        "session",
        "journal_entry_id",
        "reference",
        "at",
        "timezone",
    ]
    assert list(inspect.signature(vendor_accounts.authenticate_terminal).parameters) == [
        "session",
        "client_id",
        "terminal_id",
        "secret",
        "source_ip",
        "verification_cache",
        "verifier_key",
        "backoff",
        "now_ms",
    ]


def test_every_error_belongs_to_the_one_tree():
    errors = [
        obj
        for _, obj in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(obj, Exception) and obj.__module__ == exceptions.__name__
    ]
    assert len(errors) > 20
    codes = [e.code for e in errors]
    assert len(codes) == len(set(codes))  # stable codes, one per class
    assert all(issubclass(e, exceptions.VendorAccountsError) for e in errors)
    for name in ("InsufficientFloat", "VendorSuspended", "DailyCapExceeded"):
        assert issubclass(getattr(exceptions, name), exceptions.DebitRefused)
