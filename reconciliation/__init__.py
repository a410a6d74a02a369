"""Reconciliation of vendor reports against what the gateway issued, the breaks until they are
resolved, and the reports finance and vending staff read.

Every vendor reports what it sold (a nightly file per business day, a monthly report per month);
``reconcile`` matches it line by line with the gateway's vends on the msg_id both sides wrote,
classifies every difference, and stores a run with its totals and its tracked breaks. The public
API is what this module exports; the modules behind it are:

    report_file  the file format: names, streaming reader, line validation
    staging      the report loaded into a temporary table (COPY on PostgreSQL)
    matching     set-based pairing with the gateway's vends
    classify     categories and money effects
    breaks       breaks carried forward, cleared, resolved, aged
    runs         the orchestrator
    outputs      summary and breaks CSV of a run
    nightly      the inbox job
    monthly      the monthly finance figures (from the ledger); monthly_render writes them
    operational  vending, FBE, reversals, debt, abnormal customers
"""

from reconciliation.breaks import OpenBreak, open_breaks, resolve
from reconciliation.exceptions import (
    AlreadyReconciled,
    BreakNotOpen,
    InvalidInput,
    InvalidPeriod,
    LineProblem,
    MalformedReport,
    PeriodError,
    PeriodNotOver,
    ReconciliationError,
    ReportFileError,
    ReportNameError,
    UnknownBreak,
    UnknownVendor,
    UnreadableReport,
)
from reconciliation.models import CATEGORIES, BreakCategory
from reconciliation.monthly import MonthlyReport, VendorMonth, monthly_report
from reconciliation.nightly import Folders, NightlyResult, run_nightly
from reconciliation.periods import Calendar, Period, Window, parse_period
from reconciliation.report_file import ReportSource, identify
from reconciliation.runs import RunOutcome, calendar_of, reconcile

__all__ = [
    "CATEGORIES",
    "AlreadyReconciled",
    "BreakCategory",
    "BreakNotOpen",
    "Calendar",
    "Folders",
    "InvalidInput",
    "InvalidPeriod",
    "LineProblem",
    "MalformedReport",
    "MonthlyReport",
    "NightlyResult",
    "OpenBreak",
    "Period",
    "PeriodError",
    "PeriodNotOver",
    "ReconciliationError",
    "ReportFileError",
    "ReportNameError",
    "ReportSource",
    "RunOutcome",
    "UnknownBreak",
    "UnknownVendor",
    "UnreadableReport",
    "VendorMonth",
    "Window",
    "calendar_of",
    "identify",
    "monthly_report",
    "open_breaks",
    "parse_period",
    "reconcile",
    "resolve",
    "run_nightly",
]
