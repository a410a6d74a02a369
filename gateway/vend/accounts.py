"""Customer accounts: the meters behind an account number (ConfirmCustomer by account, account
payments). An account number is the utility's own reference, unique per customer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import errors
from gateway.models import Customer, Meter

MAX_ACCOUNT_NO = 32  # the column's width


def check_account_no(account_no: str) -> str:
    """The account number as stored, or SchemaError for one no account can have."""
    if not isinstance(account_no, str):
        raise errors.SchemaError("the account number must be text", code="account-no")
    account_no = account_no.strip()
    if not 1 <= len(account_no) <= MAX_ACCOUNT_NO:
        raise errors.SchemaError(
            f"the account number must be 1 to {MAX_ACCOUNT_NO} characters",
            code="account-no",
            value=account_no,
        )
    return account_no


def find_customer(session: Session, account_no: str) -> Customer:
    """The customer of that account, or ConfirmCustomerEx (code unknown-account)."""
    account_no = check_account_no(account_no)
    customer = session.scalar(select(Customer).where(Customer.account_no == account_no))
    if customer is None:
        raise errors.ConfirmCustomer(
            f"no customer with account number {account_no}", code="unknown-account"
        )
    return customer


def meter_numbers(session: Session, account_no: str) -> tuple[str, ...]:
    """The account's meters, in meter-number order; ConfirmCustomerEx when there are none
    (code unknown-account, or no-meter for an account without meters)."""
    customer = find_customer(session, account_no)
    numbers = tuple(
        session.scalars(
            select(Meter.meter_number)
            .where(Meter.customer_id == customer.id)
            .order_by(Meter.meter_number)
        )
    )
    if not numbers:
        raise errors.ConfirmCustomer(f"account {customer.account_no} has no meter", code="no-meter")
    return numbers
