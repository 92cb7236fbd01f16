"""Export jobs: a request row, a background job that writes the file, a download.

Modules register export *kinds* (``audit_log``, ``wallet_entries``, ``projects`` ...):
an ``ExportSource`` checks the caller may export and yields a header and rows inside a
unit of work. The service never loads everything in memory: rows stream into the
writer.
"""
from __future__ import annotations

import abc
import csv
import dataclasses
import io
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from injector import Injector, inject

from application.shared.access import Caller
from application.shared.audit import record
from application.shared.clock import Clock, parse_moment
from application.shared.jobs import JobQueue
from application.shared.paging import Page, PageRequest
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from domain.shared.errors import NotFound, ValidationFailed
from domain.shared.ids import new_id

FORMATS = ("csv", "xlsx")
MAX_ROWS = 1_000_000


log = logging.getLogger("agora.exports")


@dataclasses.dataclass
class ExportJob:
    id: str
    org_id: str
    requested_by: str | None
    kind: str
    format: str
    filters: dict[str, Any]
    status: str  # pending | running | done | failed
    created_at: datetime
    finished_at: datetime | None = None
    file_name: str | None = None
    row_count: int | None = None
    error: str | None = None


class ExportRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, job: ExportJob) -> None: ...

    @abc.abstractmethod
    def get(self, job_id: str) -> ExportJob | None: ...

    @abc.abstractmethod
    def save(self, job: ExportJob) -> None: ...

    @abc.abstractmethod
    def list(self, requested_by: str, offset: int, limit: int) -> tuple[list[ExportJob], int]: ...


class ExportStore(abc.ABC):
    """Where finished files live (local disk by default)."""

    @abc.abstractmethod
    def save(self, name: str, data: bytes) -> None: ...

    @abc.abstractmethod
    def read(self, name: str) -> bytes: ...


def filter_error(exc: ValidationFailed) -> ValidationFailed:
    """An export names its filters as ``filters.<name>``, with the code ``invalid_filter``."""
    return ValidationFailed(f"filters.{exc.field.removeprefix('filters.')}", exc.details[exc.field][0],
                            code="invalid_filter")


def filter_text(filters: dict[str, Any], key: str, max_length: int) -> str | None:
    """A text filter (an id, a reference, an operation): absent, or 1 to ``max_length``
    characters. Filters arrive as JSON, so anything else is refused here, not in the job."""
    value = filters.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        raise ValidationFailed(f"filters.{key}", f"must be text of 1 to {max_length} characters",
                               code="invalid_filter")
    return value


def filter_moment(filters: dict[str, Any], key: str, *, tz: tzinfo | None = None, end: bool = False
                  ) -> datetime | None:
    """A moment filter, as the lists take it (``parse_moment``: a timestamp with offset or,
    given the platform's ``tz``, a date), checked now so the job never meets one it cannot
    run."""
    raw = filters.get(key)
    if raw is None:
        return None
    try:
        if not isinstance(raw, str):
            raise ValueError("must be text: a date or an ISO 8601 timestamp with offset")
        return parse_moment(raw, tz, end=end)
    except ValueError as exc:
        raise ValidationFailed(f"filters.{key}", str(exc), code="invalid_filter") from None


class ExportOrganizationNotFound(NotFound):
    """An export asked for an organisation the caller does not see."""
    code = "organization_not_found"
    what = "organisation"


class ExportSource(abc.ABC):
    """One kind of export, provided by a module."""

    @abc.abstractmethod
    def check_filters(self, filters: dict[str, Any]) -> None:
        """Raise ValidationFailed (``filters.<name>``, ``invalid_filter``) unless the job can
        run with these filters. Checked when the export is requested, never when it is read:
        a rule an upgrade tightened does not lock a requester out of a file made before it."""

    @abc.abstractmethod
    def authorize(self, caller: Caller, org_id: str, filters: dict[str, Any]) -> None:
        """Raise Forbidden/NotFound unless the caller may export this (its access alone:
        the filters were checked, by ``check_filters`` at the request)."""

    def authorize_read(self, caller: Caller, org_id: str, filters: dict[str, Any]) -> None:
        """Raise unless the caller may read a finished export of this kind with these (stored)
        filters: by default, exactly when it would be allowed to request it now."""
        self.authorize(caller, org_id, dict(filters))

    @abc.abstractmethod
    def rows(self, uow: UnitOfWork, org_id: str, filters: dict[str, Any]
             ) -> tuple[list[str], Iterable[list[Any]]]:
        """The header and the rows, read inside ``uow``."""


class ExportKinds:
    def __init__(self) -> None:
        self._sources: dict[str, type[ExportSource]] = {}

    def register(self, kind: str, source: type[ExportSource]) -> None:
        self._sources[kind] = source

    def names(self) -> list[str]:
        return sorted(self._sources)

    def resolve(self, kind: str, injector: Injector) -> ExportSource:
        try:
            return injector.get(self._sources[kind])
        except KeyError:
            raise ValidationFailed("kind", f"must be one of {', '.join(self.names())}",
                                   code="unknown_export_kind") from None


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple, dict)):
        return str(value)
    return value


# a spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# references, notes and names are tenants' text, opened by other parties
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: Any) -> Any:
    """CSV: tenants' text that a spreadsheet would read as a formula gets a leading ``'``
    (OWASP's advice); numbers (money is written as decimal strings) are left alone."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return _cell(value)


def write_csv(header: list[str], rows: Iterable[list[Any]]) -> tuple[bytes, int]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([_text_cell(v) for v in row])
        count += 1
    return ("\ufeff" + buf.getvalue()).encode("utf-8"), count  # BOM: Excel opens UTF-8 correctly


def write_xlsx(header: list[str], rows: Iterable[list[Any]]) -> tuple[bytes, int]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("export")
    ws.append(header)

    def cell(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("="):  # openpyxl would store a formula
            text = WriteOnlyCell(ws, value=value)
            text.data_type = "s"  # the text itself, shown as typed
            return text
        if isinstance(value, Decimal):  # money: a number a spreadsheet sums, shown with its cents
            number = WriteOnlyCell(ws, value=value)  # as a spreadsheet's number: 15 digits hold every cent
            number.number_format = "0.00"  # up to 9,999,999,999,999.99 (docs/api.md)
            return number
        return _cell(value)

    count = 0
    for row in rows:
        ws.append([cell(v) for v in row])
        count += 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), count


class ExportService:
    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, kinds: ExportKinds, jobs: JobQueue,
                 store: ExportStore, injector: Injector) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.kinds = kinds
        self.jobs = jobs
        self.store = store
        self.injector = injector

    def request(self, caller: Caller, kind: str, org_id: str | None, fmt: str,
                filters: dict[str, Any]) -> ExportJob:
        if fmt not in FORMATS:
            raise ValidationFailed("format", "must be csv or xlsx", code="invalid_format")
        org_id = org_id or caller.effective_org_id
        caller.require_org(org_id, ExportOrganizationNotFound)
        source = self.kinds.resolve(kind, self.injector)
        source.check_filters(filters)
        source.authorize(caller, org_id, filters)
        now = self.clock.now()
        job = ExportJob(id=new_id("exp"), org_id=org_id, requested_by=caller.user_id or caller.api_key_id,
                        kind=kind, format=fmt, filters=filters, status="pending", created_at=now)
        with self.uow_factory() as uow:
            uow.repo(ExportRepository).add(job)
            record(uow, caller, "export.request", job.id, f"{kind} as {fmt}", now, org_id=org_id)
            uow.on_commit(lambda: self.jobs.enqueue("exports.run", export_id=job.id))
            uow.commit()
        return job

    def get(self, caller: Caller, export_id: str) -> ExportJob:
        """An export is read under the rule that let it be requested, checked again now: an
        export of a statement is as secret as the statement (a role without funds, or one
        that lost them since, is refused as it would be asking for the export)."""
        with self.uow_factory() as uow:
            job = uow.repo(ExportRepository).get(export_id)
        if job is None or not caller.can_see_org(job.org_id):
            raise NotFound("no such export", code="export_not_found")
        self.kinds.resolve(job.kind, self.injector).authorize_read(caller, job.org_id, job.filters)
        return job

    def list(self, caller: Caller, page: PageRequest) -> Page[ExportJob]:
        """The caller's own requests (the task centre is per user or API key), newest first."""
        requester = caller.user_id or caller.api_key_id
        if requester is None:
            return Page([], page.page, page.per_page, 0)
        with self.uow_factory() as uow:
            items, total = uow.repo(ExportRepository).list(requester, page.offset, page.per_page)
        return Page(items, page.page, page.per_page, total)

    def download(self, caller: Caller, export_id: str) -> tuple[ExportJob, bytes]:
        job = self.get(caller, export_id)
        if job.status != "done" or job.file_name is None:
            raise NotFound("export is not ready", code="export_not_ready")
        return job, self.store.read(job.file_name)

    def run(self, export_id: str) -> ExportJob:
        """The background job: stream the rows into a file and mark the export done."""
        with self.uow_factory() as uow:
            repo = uow.repo(ExportRepository)
            job = repo.get(export_id)
            if job is None or job.status == "done":
                raise NotFound("no such pending export", code="export_not_found")
            job.status = "running"
            repo.save(job)
            uow.commit()
        try:
            source = self.kinds.resolve(job.kind, self.injector)
            with self.uow_factory() as uow:
                header, rows = source.rows(uow, job.org_id, job.filters)
                limited = _limit(rows, MAX_ROWS)
                data, count = (write_csv if job.format == "csv" else write_xlsx)(header, limited)
            name = f"{job.kind}-{job.id}.{job.format}"
            self.store.save(name, data)
            job.status, job.file_name, job.row_count = "done", name, count
        except Exception:
            # the requester sees that it failed; what failed (statements, values) is the operator's
            log.exception("export %s (%s) failed", job.id, job.kind)
            job.status, job.error = "failed", "the export could not be produced; the operator's log has the details"
        job.finished_at = self.clock.now()
        with self.uow_factory() as uow:
            uow.repo(ExportRepository).save(job)
            uow.commit()
        return job


def _limit(rows: Iterable[list[Any]], limit: int) -> Iterator[list[Any]]:
    for i, row in enumerate(rows):
        if i >= limit:
            return
        yield row
