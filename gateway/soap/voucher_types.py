"""The XMLVend types of voucher redemption (VoucherVend), beside the published ones in types.py.

The request is the usual header (BaseReq) with the voucher's PIN and the meter; the answer is a
VendResp, exactly as CreditVend's. The PIN type takes any 20 digits: a wrong check digit is the
service's VoucherInvalidEx (and counts towards the guessing limit), not a schema fault.
"""

from __future__ import annotations

from spyne import Unicode

from gateway.soap.types import TNS, BaseReq, MeterNumber, required

__all__ = ["VoucherPin", "VoucherVendReq"]

VoucherPin = Unicode(pattern=r"[0-9]{20}", type_name="VoucherPin", __namespace__=TNS)


class VoucherVendReq(BaseReq):
    """Redeem a scratch-card voucher for a meter."""

    pin = required(VoucherPin)
    meterNumber = required(MeterNumber)
