"""A checker's decision on a maker-checker request, as every page that takes requests answers it.

The floats (deposits), tariffs (versions) and vouchers (activations, voids) pages decide their
requests the same way: the request must be one of the page's kinds (a request of another page's
kind is not found there: an admin, allowed on /tariffs but not on /floats, cannot approve a
deposit through the tariffs page's URL), the decision runs in one unit of work with
``vendgw.console.approvals`` (which audits it and, on approval, carries out the domain write in
the same transaction), a refusal is flashed in the user's words and the page drawn again with
409 (nothing was written), and a decision that went through is flashed and redirected, so a
reload cannot post it twice.

A page keeps only what is its own: its kinds, its words for the refusals it tells apart (the
maker's own request, a twin, the domain's refusals), its success messages, how it draws itself
and where it sends the user back. The refusals every page words alike are written once here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, request
from sqlalchemy.orm import Session

from vendgw.console import approvals, web
from vendgw.console.web import gettext as _

__all__ = ["Decider", "Words", "refusal"]

# A page's own words for a refusal, or None where the shared words below say it.
Words = Callable[[Exception], str | None]


def refusal(exc: Exception, words: Words) -> str:
    """The user's words for a refused request: the page's own first, then the shared ones.

    The domain's message is English and names fields; a page words the refusals a user can act
    on, and only what it does not know falls back to the domain's message."""
    own = words(exc)
    if own is not None:
        return own
    if isinstance(exc, approvals.AlreadyDecided):
        return _("This request was already decided.")
    if isinstance(exc, approvals.UnknownRequest):
        return _("No such request.")
    return _("Refused: %(reason)s", reason=str(exc))


@dataclass(frozen=True)
class Decider:
    """One page's approve and reject.

    ``page(status)`` draws the page again after a refusal, ``back()`` is where a decision that
    went through redirects to. ``refused`` are errors besides ``approvals.ApprovalError`` that the
    page's domain write may raise and the page words (floats: the vendor accounts' own).
    ``unknown_on_page``: an unknown request id draws the page with "No such request." and 404,
    as floats always has, instead of the plain 404 page the other pages answer."""

    kinds: tuple[str, ...]
    words: Words
    page: Callable[[int], Any]
    back: Callable[[], str]
    refused: tuple[type[Exception], ...] = ()
    unknown_on_page: bool = False

    def refusal(self, exc: Exception) -> str:
        """The page's words for ``exc``, also for the refusals of its entry forms."""
        return refusal(exc, self.words)

    def approve(self, request_id: int, done: Callable[[approvals.Request], str]) -> Any:
        """Approve and carry out the request; ``done`` words the flash of the approved one."""
        return self._decide(
            request_id,
            lambda db: approvals.approve(
                db,
                request_id,
                checker=web.actor(),
                timezone=web.runtime().settings.utility.timezone,
            ),
            done,
        )

    def reject(self, request_id: int, done: Callable[[approvals.Request], str]) -> Any:
        """Reject the request (its maker withdraws it this way) with the form's note."""
        return self._decide(
            request_id,
            lambda db: approvals.reject(
                db, request_id, checker=web.actor(), note=request.form.get("note")
            ),
            done,
        )

    def _decide(
        self,
        request_id: int,
        decide: Callable[[Session], approvals.Request],
        done: Callable[[approvals.Request], str],
    ) -> Any:
        caught: tuple[type[Exception], ...] = (approvals.ApprovalError, *self.refused)
        try:
            with web.unit_of_work() as db:
                if approvals.get_request(db, request_id).kind not in self.kinds:
                    abort(404)  # another page's request: not found here, nothing decided
                decided = decide(db)
        except caught as exc:
            if isinstance(exc, approvals.UnknownRequest):
                if not self.unknown_on_page:
                    abort(404)
                flash(self.refusal(exc), "error")
                return self.page(404)
            flash(self.refusal(exc), "error")
            return self.page(409)
        flash(done(decided), "ok")
        return redirect(self.back())
