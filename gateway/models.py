"""Utility master data: supply groups and their vending keys, tariffs, customers and meters.

These rows describe the utility's world; the vend path reads them and only ever writes a meter's
last TID and key-change state. Vending keys are stored wrapped by the security module (AES-GCM
under the master key), never in clear.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, BigId, UTCDateTime, utcnow

METER_STATUSES = ("active", "blocked")


class SupplyGroup(Base):
    """An SGC: the set of meters that share vending keys, a key-generation algorithm and an EA."""

    __tablename__ = "supply_group"
    __table_args__ = (
        CheckConstraint("length(sgc) = 6", name="sgc_six_digits"),
        CheckConstraint("dkga in ('02', '04')", name="dkga_known"),
        CheckConstraint("ea in ('07', '09', '11')", name="ea_known"),
        CheckConstraint("base_date in (1993, 2014, 2035)", name="base_date_known"),
        CheckConstraint("ken between 0 and 255", name="ken_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sgc: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    dkga: Mapped[str] = mapped_column(String(2))
    ea: Mapped[str] = mapped_column(String(2))
    base_date: Mapped[int] = mapped_column(Integer)
    ken: Mapped[int] = mapped_column(Integer, default=255)

    vending_keys: Mapped[list[VendingKey]] = relationship(back_populates="supply_group")


class VendingKey(Base):
    """One vending key of a supply group, by key revision number (KRN 1-9), wrapped at rest."""

    __tablename__ = "vending_key"
    __table_args__ = (
        UniqueConstraint("supply_group_id", "krn", name="uq_vending_key_sgc_krn"),
        CheckConstraint("krn between 1 and 9", name="krn_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    supply_group_id: Mapped[int] = mapped_column(ForeignKey("supply_group.id"))
    krn: Mapped[int] = mapped_column(Integer)
    # nonce || ciphertext || tag from the security module; the key id "SGC/KRN" is the AAD.
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supply_group: Mapped[SupplyGroup] = relationship(back_populates="vending_keys")

    @property
    def key_id(self) -> str:
        return f"{self.supply_group.sgc}/{self.krn}"

    def __repr__(self) -> str:  # the wrapped key stays out of logs and tracebacks
        return f"VendingKey(id={self.id!r}, krn={self.krn!r})"


class Tariff(Base):
    """A named tariff; its prices live in dated versions so past receipts keep their prices."""

    __tablename__ = "tariff"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(String(200), default="")

    versions: Mapped[list[TariffVersion]] = relationship(
        back_populates="tariff", order_by="TariffVersion.effective_from"
    )


class TariffVersion(Base):
    """The prices of a tariff from a date on (in the utility's timezone) until the next version."""

    __tablename__ = "tariff_version"
    __table_args__ = (
        UniqueConstraint("tariff_id", "effective_from", name="uq_tariff_version_from"),
        CheckConstraint("monthly_fixed_charge_cents >= 0", name="fixed_charge_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariff.id"))
    effective_from: Mapped[date] = mapped_column(Date)
    # VAT-inclusive, charged once per calendar month from the first vends of the month.
    monthly_fixed_charge_cents: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tariff: Mapped[Tariff] = relationship(back_populates="versions")
    steps: Mapped[list[TariffStep]] = relationship(
        back_populates="version", order_by="TariffStep.seq", cascade="all, delete-orphan"
    )


class TariffStep(Base):
    """One block of a step tariff: VAT-exclusive price per kWh up to a monthly consumption."""

    __tablename__ = "tariff_step"
    __table_args__ = (
        UniqueConstraint("tariff_version_id", "seq", name="uq_tariff_step_seq"),
        CheckConstraint("price_e4 > 0", name="price_positive"),
        CheckConstraint("upto_tenths is null or upto_tenths > 0", name="upto_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tariff_version_id: Mapped[int] = mapped_column(ForeignKey("tariff_version.id"))
    seq: Mapped[int] = mapped_column(Integer)
    # Cumulative monthly consumption in 0.1 kWh where this step ends; NULL for the last step.
    upto_tenths: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Price per kWh in 1/10000 of the currency unit (1.5500 -> 15500), VAT-exclusive.
    price_e4: Mapped[int] = mapped_column(Integer)

    version: Mapped[TariffVersion] = relationship(back_populates="steps")


class Customer(Base):
    """The account holder behind a meter, with the debt the utility recovers from each tender."""

    __tablename__ = "customer"
    __table_args__ = (
        CheckConstraint("debt_cents >= 0", name="debt_not_negative"),
        CheckConstraint("recovery_rate_bp between 0 and 10000", name="recovery_rate_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")
    debt_cents: Mapped[int] = mapped_column(Integer, default=0)
    recovery_rate_bp: Mapped[int] = mapped_column(Integer, default=0)
    fbe_registered: Mapped[bool] = mapped_column(Boolean, default=False)

    meters: Mapped[list[Meter]] = relationship(back_populates="customer")


class Meter(Base):
    """A prepaid meter: its STS identity and key data, status, tariff and the last TID issued."""

    __tablename__ = "meter"
    __table_args__ = (
        CheckConstraint("length(meter_number) in (11, 13)", name="drn_length"),
        CheckConstraint("length(iin) in (4, 6)", name="iin_length"),
        CheckConstraint("length(ti) = 2", name="ti_two_digits"),
        CheckConstraint("krn between 1 and 9", name="krn_range"),
        CheckConstraint("kt between 0 and 3", name="kt_range"),
        CheckConstraint("ea in ('07', '09', '11')", name="ea_known"),
        CheckConstraint("base_date in (1993, 2014, 2035)", name="base_date_known"),
        CheckConstraint("status in ('active', 'blocked')", name="status_known"),
        CheckConstraint("pending_krn is null or pending_krn between 1 and 9", name="pending_krn"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The DRN including its check digit: what the customer reads off the meter.
    meter_number: Mapped[str] = mapped_column(String(13), unique=True)
    iin: Mapped[str] = mapped_column(String(6), default="600727")
    supply_group_id: Mapped[int] = mapped_column(ForeignKey("supply_group.id"))
    ti: Mapped[str] = mapped_column(String(2))
    krn: Mapped[int] = mapped_column(Integer)
    kt: Mapped[int] = mapped_column(Integer)
    ea: Mapped[str] = mapped_column(String(2))
    tct: Mapped[str] = mapped_column(String(2), default="02")
    base_date: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="active")
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariff.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), nullable=True)
    # The highest TID ever issued to this meter; the next token must carry a greater one.
    last_tid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # A pending key change: the key data the meter must move to with its next vend.
    pending_sgc_id: Mapped[int | None] = mapped_column(ForeignKey("supply_group.id"), nullable=True)
    pending_krn: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pending_ti: Mapped[str | None] = mapped_column(String(2), nullable=True)
    pending_kt: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pending_base_date: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supply_group: Mapped[SupplyGroup] = relationship(foreign_keys=[supply_group_id])
    pending_supply_group: Mapped[SupplyGroup | None] = relationship(foreign_keys=[pending_sgc_id])
    tariff: Mapped[Tariff] = relationship()
    customer: Mapped[Customer | None] = relationship(back_populates="meters")

    @property
    def has_pending_key_change(self) -> bool:
        return any(
            v is not None
            for v in (
                self.pending_sgc_id,
                self.pending_krn,
                self.pending_ti,
                self.pending_kt,
                self.pending_base_date,
            )
        )
