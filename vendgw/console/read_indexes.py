"""The indexes the console's reads need on the domains' tables, declared here (the console is
what reads this way) and created by the console's migration 0452.

* the dashboard: today's vends by ``vend_transaction.created_at`` (the vend path's own indexes
  lead with the vendor or the meter) and today's refusals, a partial index on
  ``vend_request.created_at`` of the refused requests only (a few per cent of the rows);
* the call centre's meter search (gateway.vend.customer_care.search_meters): a meter number or
  account prefix as a LIKE range (``varchar_pattern_ops`` on PostgreSQL, whose collation may
  not be C), a customer's name as a case-insensitive substring (ILIKE; a trigram GIN index
  on ``name``, pg_trgm), and the customers' meters by ``meter.customer_id``.

On SQLite the pattern and trigram indexes are plain ones (its LIKE is case-insensitive and
uses none of them); they cost little there and keep one schema for both databases.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Index, Table, text

from gateway.models import Customer, Meter
from gateway.vend.models import VendRequest, VendTransaction

_meter = cast(Table, Meter.__table__)
_customer = cast(Table, Customer.__table__)

INDEXES = (
    Index("ix_vend_transaction_created_at", cast(Table, VendTransaction.__table__).c.created_at),
    Index(
        "ix_vend_request_refused_created",
        cast(Table, VendRequest.__table__).c.created_at,
        postgresql_where=text("outcome = 'refused'"),
        sqlite_where=text("outcome = 'refused'"),
    ),
    Index("ix_meter_customer_id", _meter.c.customer_id),
    Index(
        "ix_meter_number_pattern",
        _meter.c.meter_number,
        postgresql_ops={"meter_number": "varchar_pattern_ops"},
    ),
    Index(
        "ix_customer_account_no_pattern",
        _customer.c.account_no,
        postgresql_ops={"account_no": "varchar_pattern_ops"},
    ),
    # ILIKE '%text%' on PostgreSQL: a trigram index answers it for three characters or more.
    Index(
        "ix_customer_name_trgm",
        _customer.c.name,
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    ),
)
