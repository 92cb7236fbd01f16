"""Project lists, "my projects", purchased services, the delivery dashboard and the
``projects`` export kind.

Who sees what: the platform sees every project; a vendor admin or project manager
the projects of the vendor's products; a provider admin the provider's projects; an
employee the projects they work or worked on; a customer its purchased services.
Dashboard figures are counted up to 00:00 today in the platform time zone (today
is excluded).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from injector import inject

from application.exports import ExportSource, filter_error
from application.shared.access import Caller
from application.shared.clock import Clock
from application.shared.paging import Page, PageRequest
from application.shared.uow import UnitOfWork, UnitOfWorkFactory
from application.workflow.ports import ProjectFilter, ProjectQueries, ProjectRow, ProjectScope
from application.workflow.views import row_view
from domain.identity.ports import OrganizationRepository
from domain.shared.errors import Forbidden, ValidationFailed

TABS = ("running", "completed", "paused", "cancelled")
MAX_FILTER = 100
FILTER_KEYS = ("order_no", "provider_org_id", "product_id", "customer_org_id", "stage", "operator_id", "overdue")


def list_scope(caller: Caller, *, participants: bool = True) -> ProjectScope:
    if caller.is_platform:
        return ProjectScope(everything=True)
    return ProjectScope(
        vendor_org_id=caller.org_id if caller.has("workflow.projects.view_all") else None,
        provider_org_id=caller.org_id if caller.has("workflow.projects.view_provider") else None,
        participant_user_id=caller.user_id if participants else None)


def _filter(tab: str | None, filters: dict[str, Any]) -> ProjectFilter:
    if tab is not None and tab not in TABS:
        raise ValidationFailed("tab", f"must be one of {', '.join(TABS)}", code="invalid_filter")
    values: dict[str, Any] = {k: filters.get(k) for k in FILTER_KEYS}
    for key, value in values.items():  # an export's filters arrive as JSON: any type
        if key != "overdue" and value is not None and (not isinstance(value, str) or len(value) > MAX_FILTER):
            raise ValidationFailed(key, f"must be text of at most {MAX_FILTER} characters", code="invalid_filter")
    overdue = values["overdue"]
    if isinstance(overdue, str):
        if overdue.lower() not in ("true", "false"):
            raise ValidationFailed("overdue", "must be true or false", code="invalid_filter")
        values["overdue"] = overdue.lower() == "true"
    elif overdue is not None and not isinstance(overdue, bool):
        raise ValidationFailed("overdue", "must be true or false", code="invalid_filter")
    return ProjectFilter(status=tab, **values)


class ProjectListService:
    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    def _page(self, scope: ProjectScope, flt: ProjectFilter, page: PageRequest) -> Page[dict[str, Any]]:
        if scope.empty:
            return Page([], page.page, page.per_page, 0)
        with self.uow_factory() as uow:
            rows, total = uow.repo(ProjectQueries).list(scope, flt, page.offset, page.per_page)
        return Page([row_view(r) for r in rows], page.page, page.per_page, total)

    def list(self, caller: Caller, page: PageRequest, tab: str = "running", **filters: Any) -> Page[dict[str, Any]]:
        """The project management list: one status tab, filters, paging."""
        return self._page(list_scope(caller), _filter(tab, filters), page)

    def mine(self, caller: Caller, page: PageRequest, view: str = "pending", **filters: Any
             ) -> Page[dict[str, Any]]:
        """Pending for me (the current node is mine) or processed by me."""
        if caller.user_id is None:
            raise Forbidden("an API key has no projects of its own", code="user_required")
        base = _filter(None, filters)
        if view == "pending":
            flt = ProjectFilter(**{**base.__dict__, "pending_for_user": caller.user_id,
                                   "pending_roles": tuple(caller.roles), "pending_org_id": caller.org_id})
        elif view == "processed":
            flt = ProjectFilter(**{**base.__dict__, "processed_by": caller.user_id})
        else:
            raise ValidationFailed("view", "must be pending or processed", code="invalid_filter")
        return self._page(ProjectScope(everything=True), flt, page)

    def purchased(self, caller: Caller, page: PageRequest, tab: str | None = None, **filters: Any
                  ) -> Page[dict[str, Any]]:
        """Projects where my organisation is the customer."""
        return self._page(ProjectScope(customer_org_id=caller.effective_org_id), _filter(tab, filters), page)

    # ------------------------------------------------------------------ dashboard
    def dashboard(self, caller: Caller, window: int = 30, granularity: str = "day") -> dict[str, Any]:
        if window not in (30, 60):
            raise ValidationFailed("window", "must be 30 or 60", code="invalid_filter")
        if granularity not in ("day", "month"):
            raise ValidationFailed("granularity", "must be day or month", code="invalid_filter")
        scope = list_scope(caller, participants=False)
        if scope.empty or not (caller.is_platform or caller.has("dashboard.view")
                               or caller.has("workflow.projects.view_provider")):
            raise Forbidden("the dashboard is for vendor and provider admins", code="permission_denied")
        tz = self.clock.tz
        today = self.clock.today()

        def midnight(day: date) -> datetime:
            return datetime.combine(day, time(0), tzinfo=tz)

        cutoff = midnight(today)
        with self.uow_factory() as uow:
            q = uow.repo(ProjectQueries)
            cycles = q.completion_cycles(scope, midnight(today - timedelta(days=365)), cutoff)
            if granularity == "day":
                days = [today - timedelta(days=n) for n in range(7, 0, -1)]
                created = q.created_times(scope, midnight(days[0]), cutoff)
                per = Counter(c.astimezone(tz).date() for c in created)
                series = [{"period": d.isoformat(), "count": per.get(d, 0)} for d in days]
            else:
                months = _last_months(today, 6)
                created = q.created_times(scope, midnight(months[0]), cutoff)
                per_month = Counter(c.astimezone(tz).date().replace(day=1) for c in created)
                series = [{"period": m.strftime("%Y-%m"), "count": per_month.get(m, 0)} for m in months]
            counts = q.status_counts(scope, midnight(today - timedelta(days=window)), cutoff)
        average = None
        if cycles:
            days_avg = Decimal(str(sum(cycles))) / Decimal(len(cycles)) / Decimal(86400)
            average = str(days_avg.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
        return {
            "as_of": cutoff.astimezone(UTC), "window": window, "granularity": granularity,
            "average_completion_days": average, "completed_last_365_days": len(cycles),
            "new_projects": series,
            "status": {"total": counts.total, "delivered": counts.delivered, "running": counts.running,
                       "overdue": counts.overdue, "paused": counts.paused, "cancelled": counts.cancelled},
        }


def _last_months(today: date, n: int) -> list[date]:
    """First days of the last ``n`` calendar months, this month included, oldest first."""
    out = []
    y, m = today.year, today.month
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return list(reversed(out))


# --------------------------------------------------------------------------- export
EXPORT_HEADER = ["order_no", "business_no", "product_code", "product_name", "customer", "vendor", "provider",
                 "status", "stage", "operator", "overdue", "overdue_side", "created_at", "completed_at"]
PAGE = 1000


class ProjectsExport(ExportSource):
    """Export kind ``projects``: one tab of the project list with its filters.

    ``authorize`` records the caller's list scope in the filters (the job runs later
    without the caller)."""

    def check_filters(self, filters: dict[str, Any]) -> None:
        unknown = set(filters) - {"tab", *FILTER_KEYS}
        if unknown:
            raise ValidationFailed(f"filters.{sorted(unknown)[0]}", "unknown filter", code="invalid_filter")
        try:
            _filter(filters.get("tab", "running"), filters)
        except ValidationFailed as exc:
            raise filter_error(exc) from None

    def authorize(self, caller: Caller, org_id: str, filters: dict[str, Any]) -> None:
        scope = list_scope(caller) if org_id == caller.org_id else ProjectScope()
        if scope.empty:
            raise Forbidden("you see no projects to export", code="permission_denied")
        filters["scope"] = {"everything": scope.everything, "vendor_org_id": scope.vendor_org_id,
                            "provider_org_id": scope.provider_org_id,
                            "participant_user_id": scope.participant_user_id}

    def authorize_read(self, caller: Caller, org_id: str, filters: dict[str, Any]) -> None:
        """The export holds its requester's scope — projects of a vendor, of a provider, or
        that a user takes part in (any of them) — and is read by a caller who may export the
        tab now with a scope that has every part of it: the requester while its rights have
        not shrunk, or who sees everything. A part that names another user is not covered,
        so one user never reads another's "my projects"."""
        if list_scope(caller).everything:
            return
        mine = {k: v for k, v in filters.items() if k != "scope"}
        self.authorize(caller, org_id, mine)
        stored = filters.get("scope")
        if not isinstance(stored, dict) or any(value and mine["scope"].get(part) != value
                                               for part, value in stored.items()):
            raise Forbidden("this export covers projects you do not see", code="permission_denied")

    def rows(self, uow: UnitOfWork, org_id: str, filters: dict[str, Any]
             ) -> tuple[list[str], Iterable[list[Any]]]:
        raw = filters.get("scope")
        if isinstance(raw, dict):
            scope = ProjectScope(**{k: raw.get(k) for k in ("vendor_org_id", "provider_org_id",
                                                             "participant_user_id")},
                                 everything=bool(raw.get("everything")))
        else:
            org = uow.repo(OrganizationRepository).get(org_id)
            scope = ProjectScope(everything=True) if org is not None and org.is_platform() else \
                ProjectScope(vendor_org_id=org_id, provider_org_id=org_id)
        flt = _filter(filters.get("tab", "running"), filters)

        def generate() -> Iterator[list[Any]]:
            offset = 0
            while True:
                rows, _ = uow.repo(ProjectQueries).list(scope, flt, offset, PAGE)
                for r in rows:
                    yield _export_row(r)
                if len(rows) < PAGE:
                    return
                offset += PAGE

        return EXPORT_HEADER, generate()


def _export_row(r: ProjectRow) -> list[Any]:
    return [r.order_no, r.business_no, r.product_code, r.product_name, r.customer_name, r.vendor_name,
            r.provider_name, r.status, r.current_node_name, r.current_operator_name, r.overdue, r.overdue_side,
            r.created_at, r.completed_at]
