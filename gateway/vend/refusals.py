"""Library errors become gateway errors here, and only here: one table, one context manager.

In the style of httpx's `map_httpcore_exceptions`: the libraries below the vend path refuse in
their own terms (pricing's VendAmountError, vendor_accounts' DebitRefused, a money.AmountError
of the wire's amount), and `translated()`, wrapped around the service call, turns each into the
gateway error of the table, keeping its code (kebab-case, as every package spells it) and its
figures (`GatewayError.from_library`). The most specific table entry wins. Anything not in the
table passes unchanged: a gateway error is already one, anything else is a bug, answered
Server.SystemEx with its traceback in the log (gateway/soap/faults.py).

It is used at the vend domain's entry: every public operation of DatabaseVendingService
(`translating`, so every door gets gateway errors), and inside it `idempotency.run_once`, around
each state-changing request's work (so the refusal remembered for the msgID is the translated
one); the SOAP edge's `call_wrapper` wraps every operation in it too, for its own conversions
of the wire's values, and `vendgw quote` around its pricing.

The meter number's own checks (sts CheckDigitError and StsError in gateway/vend/meters.py) and
the login refusals (gateway/soap/auth.py, which answers with HTTP statuses before any operation
runs) are translated where they are raised, outside this table.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from core import money
from gateway import errors, pricing
from vendor_accounts.exceptions import DebitRefused

LIBRARY_ERRORS: dict[type[Exception], type[errors.GatewayError]] = {
    pricing.VendAmountError: errors.VendAmount,  # carries min_cents and max_cents
    pricing.VendTooSmallError: errors.VendAmount,  # code vend-too-small
    pricing.FbeNotDueError: errors.FBEError,  # fbe-not-registered, -already-taken, -none
    DebitRefused: errors.VendorCredit,  # insufficient-float, vendor-suspended, daily-cap-...
    money.AmountError: errors.SchemaError,  # code amount
}


def gateway_error(exc: BaseException) -> errors.GatewayError | None:
    """The gateway error `exc` means by the table, or None when it has no entry."""
    if isinstance(exc, errors.GatewayError):
        return exc
    for cls in type(exc).__mro__:
        target = LIBRARY_ERRORS.get(cls)
        if target is not None:
            return target.from_library(exc)
    return None


@contextmanager
def translated() -> Iterator[None]:
    """Raise the table's gateway error for a library error escaping the block."""
    try:
        yield
    except errors.GatewayError:
        raise
    except Exception as exc:
        mapped = gateway_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


C = TypeVar("C", bound=type)


def translating(cls: C) -> C:
    """Wrap each public operation of a service class in `translated()`: the service's entry,
    so every door (the SOAP edge, the CLI, a console) gets gateway errors."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(member):
            setattr(cls, name, translated()(member))
    return cls
