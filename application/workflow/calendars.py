"""Working-day calendars: the platform default and a vendor's own days over it.

A calendar lists days that break the Monday-Friday rule (``holiday`` / ``workday``).
Deadlines of a vendor's projects use the platform calendar with the vendor's listed
days winning. The platform calendar is filled from the official Chinese calendar
(``chinesecalendar`` package) by ``load_official``; reading a calendar warns when
the current or coming year has no data.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date

from injector import inject

from application.shared.access import Caller
from application.shared.audit import record
from application.shared.clock import Clock
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from application.workflow.engine import CalendarCache
from application.workflow.ports import PLATFORM_CALENDAR, CalendarRepository
from domain.identity.ports import OrganizationRepository
from domain.shared.errors import Forbidden, NotFound, ValidationFailed
from domain.workflow.calendar import (
    WorkCalendar,
    calendar_from_chinesecalendar,
    chinesecalendar_years,
    missing_years,
)

MAX_DAYS = 3000


@dataclasses.dataclass(frozen=True)
class CalendarView:
    org_id: str
    owner: str  # "platform" or the organisation id
    days: list[tuple[date, str]]  # this calendar's own listed days
    inherited_days: int  # days listed by the platform calendar (0 for the platform itself)
    warnings: list[str]
    missing_years: list[int]


@dataclasses.dataclass(frozen=True)
class OfficialLoad:
    loaded_years: list[int]
    missing_years: list[int]
    days: int


class CalendarService:
    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, cache: CalendarCache) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.cache = cache

    @staticmethod
    def _owner(uow: UnitOfWork, caller: Caller, org_id: str) -> str:
        """``platform`` for the platform organisation (or the literal alias), else the org id."""
        if org_id == PLATFORM_CALENDAR:
            return PLATFORM_CALENDAR
        if not caller.can_see_org(org_id):
            raise NotFound("no such calendar", code="calendar_not_found")
        org = uow.repo(OrganizationRepository).get(org_id)
        if org is None:
            raise NotFound("no such calendar", code="calendar_not_found")
        return PLATFORM_CALENDAR if org.is_platform() else org_id

    def get(self, caller: Caller, org_id: str) -> CalendarView:
        with self.uow_factory() as uow:
            owner = self._owner(uow, caller, org_id)
            repo = uow.repo(CalendarRepository)
            own = repo.get(owner)
            platform = own if owner == PLATFORM_CALENDAR else repo.get(PLATFORM_CALENDAR)
        effective = platform.overlay(own)
        missing = missing_years(effective, self.clock.today())
        warnings = [f"the calendar has no holiday data for {y}: its deadlines count only weekends as days off"
                    for y in missing]
        return CalendarView(org_id=org_id, owner=owner, days=list(own.entries()),
                            inherited_days=0 if owner == PLATFORM_CALENDAR else len(platform.days),
                            warnings=warnings, missing_years=missing)

    def put(self, caller: Caller, org_id: str, days: Sequence[tuple[str | date, str]]) -> CalendarView:
        """Replace the organisation's listed days (vendor admin; the platform admin for the platform's)."""
        if len(days) > MAX_DAYS:
            raise ValidationFailed("days", f"at most {MAX_DAYS} days", code="invalid_calendar")
        calendar = WorkCalendar.from_entries(days)
        now = self.clock.now()
        with self.uow_factory() as uow:
            owner = self._owner(uow, caller, org_id)
            if owner == PLATFORM_CALENDAR:
                if not caller.is_platform_admin:
                    raise Forbidden("the platform calendar is kept by the platform", code="permission_denied")
            else:
                caller.require("workflow.calendar.manage", org_id=org_id)
            uow.repo(CalendarRepository).replace(owner, calendar)
            record(uow, caller, "workflow.calendar_put", owner, f"{len(calendar.days)} listed days", now)
            uow.commit()
        self.cache.clear()
        return self.get(caller, org_id)

    def load_official(self, years: Iterable[int], caller: Caller | None = None) -> OfficialLoad:
        """Merge the official Chinese calendar of ``years`` into the platform calendar.

        Callable without HTTP (a job, the CLI, a test); through the API only the
        platform admin calls it. Years the installed package has no data for are
        reported, not guessed.
        """
        if caller is not None and not caller.is_platform_admin:
            raise Forbidden("the platform calendar is kept by the platform", code="permission_denied")
        wanted = sorted(set(years))
        for y in wanted:
            if not 1900 <= y <= 2200:
                raise ValidationFailed("years", f"{y} is not a plausible year", code="invalid_calendar")
        available = chinesecalendar_years()
        loaded = [y for y in wanted if y in available]
        official = calendar_from_chinesecalendar(loaded)
        with self.uow_factory() as uow:
            uow.repo(CalendarRepository).merge(PLATFORM_CALENDAR, official)
            record(uow, caller, "workflow.calendar_load_official", PLATFORM_CALENDAR,
                   f"years {loaded or '-'}; no data for {[y for y in wanted if y not in available] or '-'}",
                   self.clock.now())
            uow.commit()
        self.cache.clear()
        return OfficialLoad(loaded_years=loaded, missing_years=[y for y in wanted if y not in available],
                            days=len(official.days))
