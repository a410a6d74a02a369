"""The process's wiring: settings to engine, sessions and security module, built once and shared
by the CLI, the SOAP application and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, make_session_factory
from core.keys import derive_verifier_key
from core.settings import DatabaseLimits, Settings

if TYPE_CHECKING:
    from sts import SoftwareSecurityModule


@dataclass
class Runtime:
    """`batch` is for operator commands (the `vendgw` CLI): their sessions get the settings' long
    batch time-outs instead of the vend path's short ones (see core/db.py)."""

    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)
    batch: bool = False

    @cached_property
    def limits(self) -> DatabaseLimits:
        return self.settings.database.limits(batch=self.batch)

    @cached_property
    def engine(self) -> Engine:
        return self._engine or make_engine(self.settings.database_url, limits=self.limits)

    @cached_property
    def single_reads(self) -> Engine:
        """For a read that is one statement on its own (a request's authentication). On
        PostgreSQL its connections stay in autocommit, outside a transaction: no BEGIN and no
        ROLLBACK round trip around the statement. (A pool of their own, because switching a
        pooled connection in and out of autocommit costs a round trip of its own.)"""
        if self.engine.dialect.name != "postgresql":
            return self.engine
        return make_engine(
            self.engine.url.render_as_string(hide_password=False),
            limits=self.limits,
            isolation_level="AUTOCOMMIT",
            pool_size=2,
            max_overflow=8,
        )

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def security_module(self) -> SoftwareSecurityModule:
        from sts import SoftwareSecurityModule

        return SoftwareSecurityModule(self.settings.master_key())

    @cached_property
    def verifier_key(self) -> bytes:
        """The key of the terminals' HMAC secret verifiers, derived from the master key."""
        return derive_verifier_key(self.settings.master_key())

    def close(self) -> None:
        if "single_reads" in self.__dict__ and self.single_reads is not self.engine:
            self.single_reads.dispose()
        if "engine" in self.__dict__:
            self.engine.dispose()
