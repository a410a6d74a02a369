"""Batches and shifts over /xmlvend/2.1 end to end: a terminal opens a shift, vends, asks for
its running totals and ends it; every vend response says which batches are open."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from tests.support.soap import METER, OFFICE
from tests.xmlvend import support as x
from tests.xmlvend.support import B, R

pytestmark = pytest.mark.e2e


def _batch(root: str, kind: str, extra: str = "") -> bytes:
    return x.envelope(x.body(root, x.head(OFFICE, x.new_msg()) + extra, xsi_type=f"r:{kind}"))


def _totals(batch: etree._Element) -> dict[str, Decimal]:
    report = batch.find(f"{{{R}}}batchReport")
    assert report is not None
    return {
        x.xsi_type(t) or t.findtext(f"{{{R}}}opName") or "": Decimal(
            t.find(f"{{{R}}}amt").get("value") or "0"  # type: ignore[union-attr]
        )
        for t in report
    }


def test_a_shift_counts_its_vends_and_ending_it_answers_the_totals(base_url: str) -> None:
    started = x.answer(x.post(base_url, OFFICE, _batch("r:startBatchReq", "StartShiftBatchReq")))
    batch = started.find(f"{{{R}}}startedBatch")
    assert x.xsi_type(batch) == "ShiftStartBatch"
    seq = batch.get("seqNo")  # type: ignore[union-attr]
    again = x.fault(x.post(base_url, OFFICE, _batch("r:startBatchReq", "StartShiftBatchReq")))
    assert again.fault_type == "StartBatchEx"

    sold = x.answer(x.post(base_url, OFFICE, x.credit_vend(OFFICE, x.new_msg(), METER, "40.00")))
    status = sold.find(f"{{{B}}}clientStatus/{{{B}}}batchStatus")
    assert status is not None and status.get("shift") == "open"

    running = x.answer(x.post(base_url, OFFICE, _batch("r:totalBatchReq", "TotalShiftBatchReq")))
    [total] = running.findall(f"{{{R}}}totalBatch")
    assert x.xsi_type(total) == "ShiftBatch" and total.get("seqNo") == seq
    assert _totals(total)["NormalSaleTotal"] == Decimal("40.00")

    ended = x.answer(x.post(base_url, OFFICE, _batch("r:endBatchReq", "EndShiftBatchReq")))
    batch = ended.find(f"{{{R}}}endBatch")
    assert batch is not None and x.xsi_type(batch) == "ShiftBatch"
    assert Decimal(batch.find(f"{{{R}}}batchTot").get("value") or "0") == Decimal("40.00")  # type: ignore[union-attr]
    totals = _totals(batch)
    assert totals["NormalSaleTotal"] == Decimal("40.00")
    assert totals["CashTotal"] == Decimal("40.00")
    assert totals["CLERK1"] == Decimal("40.00")  # the operator from authCred/opName

    after = x.answer(x.post(base_url, OFFICE, x.credit_vend(OFFICE, x.new_msg(), METER, "10.00")))
    assert after.find(f"{{{B}}}clientStatus/{{{B}}}batchStatus").get("shift") == "closed"  # type: ignore[union-attr]
    none_open = x.fault(x.post(base_url, OFFICE, _batch("r:endBatchReq", "EndShiftBatchReq")))
    assert none_open.fault_type == "EndBatchEx"

    reprint = x.answer(
        x.post(
            base_url,
            OFFICE,
            _batch("r:reprintEndBatchReq", "ReprintEndShiftBatchReq", f"<r:seqNo>{seq}</r:seqNo>"),
        )
    )
    inner = reprint.find(f"{{{R}}}endBatchReprint/{{{R}}}endBatch")
    assert inner is not None and inner.get("seqNo") == seq
    assert _totals(inner) == totals


def test_banking_and_sales_batches_open_and_close(base_url: str) -> None:
    for kind in ("Sales", "Bank"):
        started = x.answer(
            x.post(base_url, OFFICE, _batch("r:startBatchReq", f"Start{kind}BatchReq"))
        )
        assert x.xsi_type(started.find(f"{{{R}}}startedBatch")) == f"{kind}StartBatch"
        ended = x.answer(x.post(base_url, OFFICE, _batch("r:endBatchReq", f"End{kind}BatchReq")))
        assert x.xsi_type(ended.find(f"{{{R}}}endBatch")) == f"{kind}Batch"


def test_a_batch_request_without_its_kind_is_a_schema_fault(base_url: str) -> None:
    payload = x.envelope(x.body("r:startBatchReq", x.head(OFFICE, x.new_msg())))
    assert x.fault(x.post(base_url, OFFICE, payload)).code == "batch-type"
