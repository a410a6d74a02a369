"""The vouchers' invariants, re-proved from the rows (as the ledger's check_invariants does):

* the voucher liability in the ledger equals the face value of the vouchers that are active
  (sold, not redeemed, not voided; expired ones included: their value is still owed until it is
  written off), so no redemption, activation or void wrote one side without the other;
* every redeemed voucher has its vend transaction, of its face value, and its journal entry;
* every activated voucher's commission is between zero and its face value.
"""

from __future__ import annotations

from sqlalchemy import and_, func, select, text
from sqlalchemy.orm import Session

from gateway.vouchers.models import Voucher, VoucherBatch
from vendor_accounts.ledger import voucher_liability_cents

__all__ = ["active_face_cents", "check_vouchers"]


def active_face_cents(session: Session) -> int:
    total = session.execute(
        select(func.coalesce(func.sum(VoucherBatch.denomination_cents), 0))
        .select_from(Voucher)
        .join(VoucherBatch, VoucherBatch.id == Voucher.batch_id)
        .where(Voucher.status == "active")
    ).scalar_one()
    return int(total)


def check_vouchers(session: Session) -> list[str]:
    """Every problem found; an empty list means the vouchers agree with the books."""
    problems = []
    owed, booked = active_face_cents(session), voucher_liability_cents(session)
    if owed != booked:
        problems.append(
            f"voucher-liability-mismatch: active vouchers are worth {owed}, "
            f"the voucher liability account holds {booked}"
        )
    # The vend records sit above this package: read them by SQL.
    unmatched = session.execute(
        text(
            "SELECT v.serial FROM voucher v JOIN voucher_batch b ON b.id = v.batch_id "
            "LEFT JOIN vend_transaction t ON t.id = v.redemption_transaction_id "
            "WHERE v.status = 'redeemed' AND (t.id IS NULL OR t.kind <> 'voucher' "
            "OR t.tender_cents <> b.denomination_cents OR t.journal_entry_id IS NULL) "
            "ORDER BY v.serial"
        )
    ).scalars()
    problems += [
        f"voucher-redemption-mismatch: voucher {serial:012d} has no matching vend"
        for serial in unmatched
    ]
    bad = session.execute(
        select(Voucher.serial)
        .join(VoucherBatch, VoucherBatch.id == Voucher.batch_id)
        .where(
            Voucher.activated_at.is_not(None),
            ~and_(
                Voucher.commission_cents >= 0,
                Voucher.commission_cents <= VoucherBatch.denomination_cents,
            ),
        )
    ).scalars()
    problems += [f"voucher-commission: voucher {serial:012d}" for serial in bad]
    return problems
