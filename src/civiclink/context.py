"""What an action needs besides its arguments: the session, the settings, the calendar and org snapshots,
and the time ("now" is passed in, so that imports, the demo seeder and tests can act at any moment)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from civiclink.config import Settings
from civiclink.orgs.service import OrgDirectory
from civiclink.sla.calendar import WorkCalendar


@dataclass
class Ctx:
    session: Session
    settings: Settings
    calendar: WorkCalendar
    directory: OrgDirectory
    now: datetime
    # Clocks an action loaded or started, by id() of the order object, for the rest of this request.
    clocks: dict = field(default_factory=dict)
    # Rows a read-only request loaded in bulk for a page (e.g. the transfer records of a list of 警单), so that
    # shaping each item needs no query of its own. Never filled by writes.
    preloaded: dict = field(default_factory=dict)

    def at(self, moment: datetime) -> Ctx:
        return Ctx(self.session, self.settings, self.calendar, self.directory, moment)
