"""Agency overview endpoints (wallet.md "Agency overview"): spend across the agency's
authorised principals, top principals by spend, fund anomalies and performance; and the
agency statement view (wallet.md "Statements"): each principal's funds with totals, and
the statement lines of all principals merged.

Only agency owners and admins (``wallet.allocate``) or the agency's API key may ask; the
figures are about the caller's own agency. Days are Asia/Shanghai (platform) days; money
is a 2-place decimal string, percentages too (``"12.50"`` means 12.5 %).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint
from marshmallow import Schema, fields, validate

from application.shared.access import Caller
from application.wallet import AgencyOverviewService, AgencyStatementService
from application.wallet.agency_statements import MAX_QUERY, PrincipalFundsRow
from application.wallet.overview import MAX_TOP
from domain.wallet.model import Figures
from domain.wallet.overview import (
    MAX_RANGE_DAYS,
    MAX_YEAR,
    MIN_YEAR,
    PERIODS,
    TOP_DEFAULT,
    Comparison,
    DaySpend,
    Period,
    SpendFigures,
)
from domain.wallet.ports import ConsumptionRow, LineFilter
from domain.wallet.purpose import PURPOSES, org_of, split_key
from entrypoints.http.api import doc, dump, dump_page, page_fields, page_request, query, reject_nul_in_path
from entrypoints.http.auth import authenticated, service
from entrypoints.http.schemas import PagedQuery, Strict, paged
from entrypoints.http.wallet.schemas import (
    BreakdownOut,
    ConsumptionOut,
    ConsumptionQuery,
    ConsumptionRowOut,
    EntryQuery,
    LineOut,
    Money,
)
from entrypoints.http.wallet.views import _line, _moment

bp = Blueprint("agency_overview", __name__, url_prefix="/api/v1/agency")
bp.url_value_preprocessor(reject_nul_in_path)
T = ["agency overview"]


def overviews() -> AgencyOverviewService:
    return service(AgencyOverviewService)  # type: ignore[no-any-return]


def statements() -> AgencyStatementService:
    return service(AgencyStatementService)  # type: ignore[no-any-return]


def _money(**kwargs: Any) -> Money:
    return Money(dump_only=True, positive=False, **kwargs)


# -- schemas --------------------------------------------------------------------------------------

class OverviewPeriodQuery(Strict):
    period = fields.String(load_default=None, validate=validate.OneOf(PERIODS), metadata={
        "description": "today, yesterday, 7d or 30d (ending today, both ends included), or range with from "
                       "and to; default: range when from/to are given, else today"})
    from_ = fields.Date(data_key="from", load_default=None,
                        metadata={"description": "first day (YYYY-MM-DD, Asia/Shanghai), period=range only"})
    to = fields.Date(load_default=None, metadata={
        "description": f"last day, included (period=range only; at most {MAX_RANGE_DAYS} days)"})


class TopPrincipalsQuery(OverviewPeriodQuery):
    limit = fields.Integer(load_default=TOP_DEFAULT, validate=validate.Range(min=1, max=MAX_TOP))


class FundAnomaliesQuery(Strict):
    pass


class PerformanceQuery(Strict):
    year = fields.Integer(load_default=None, validate=validate.Range(min=MIN_YEAR, max=MAX_YEAR),
                          metadata={"description": "default: the current year (Asia/Shanghai)"})


class OverviewPeriodOut(Schema):
    name = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    days = fields.Integer()


class MoneyComparisonOut(Schema):
    value = _money()
    previous = _money(metadata={"description": "the same figure in the previous period"})
    change = _money(metadata={"description": "value - previous"})
    change_percent = _money(allow_none=True, metadata={"description": "change / previous in percent; null when "
                                                                      "previous is 0"})


class CountComparisonOut(Schema):
    value = fields.Integer()
    previous = fields.Integer()
    change = fields.Integer()
    change_percent = _money(allow_none=True)


class OverviewDayOut(Schema):
    day = fields.String(metadata={"description": "YYYY-MM-DD, Asia/Shanghai"})
    spend = _money()
    principals_with_spend = fields.Integer()


class AgencyOverviewOut(Schema):
    period = fields.Nested(OverviewPeriodOut)
    previous_period = fields.Nested(OverviewPeriodOut)
    principals = fields.Integer(metadata={"description": "authorised principals now"})
    spend = fields.Nested(MoneyComparisonOut, metadata={"description": "charges and captures"})
    principals_with_spend = fields.Nested(CountComparisonOut)
    arpu = fields.Nested(MoneyComparisonOut, metadata={"description": "spend / principals with spend"})
    breakdown = fields.Nested(BreakdownOut, metadata={"description": "where this period's spend came from"})
    days = fields.List(fields.Nested(OverviewDayOut), metadata={"description": "one per day of the period"})


class TopPrincipalOut(Schema):
    rank = fields.Integer()
    org_id = fields.String()
    name = fields.String()
    spend = _money()
    breakdown = fields.Nested(BreakdownOut)
    available = _money(metadata={"description": "available balance now"})
    daily_budget = _money(allow_none=True)


class TopPrincipalsOut(Schema):
    period = fields.Nested(OverviewPeriodOut)
    at = fields.AwareDateTime(metadata={"description": "the moment of the balances"})
    items = fields.List(fields.Nested(TopPrincipalOut))


class FundAnomalyOut(Schema):
    org_id = fields.String()
    name = fields.String()
    yesterday_spend = _money()
    available = _money()
    shortfall = _money(metadata={"description": "yesterday_spend - available"})
    days_left = _money(metadata={"description": "available / yesterday_spend, rounded down"})
    daily_budget = _money(allow_none=True)


class FundAnomaliesOut(Schema):
    day = fields.Date(metadata={"description": "yesterday (Asia/Shanghai): the day whose spend is the rate"})
    at = fields.AwareDateTime(metadata={"description": "the moment of the balances"})
    items = fields.List(fields.Nested(FundAnomalyOut))


class PrincipalSpendOut(Schema):
    org_id = fields.String()
    name = fields.String()
    spend = _money()


class PerformanceBucketOut(Schema):
    period = fields.String(metadata={"description": "YYYY-MM, YYYY-Qn or YYYY"})
    principals_with_spend = fields.Integer()
    spend = _money()
    principals = fields.List(fields.Nested(PrincipalSpendOut), metadata={
        "description": "the principals with spend > 0 in the period, most spend first"})


class PerformanceOut(Schema):
    year = fields.Integer()
    months = fields.List(fields.Nested(PerformanceBucketOut))
    quarters = fields.List(fields.Nested(PerformanceBucketOut))
    year_total = fields.Nested(PerformanceBucketOut)


class PrincipalFundsQuery(PagedQuery):
    q = fields.String(load_default=None, validate=validate.Length(max=MAX_QUERY), metadata={
        "description": "principals whose name contains it (case-insensitive) or whose organisation id it is"})
    purpose = fields.String(load_default="general", validate=validate.OneOf(PURPOSES),
                            metadata={"description": "the principals' general or external wallets"})


class FundsFiguresOut(Schema):
    cash = _money()
    coupons = _money(metadata={"description": "unexpired coupons, all kinds"})
    coupons_normal = _money()
    coupons_traffic = _money()
    credit_limit = _money(metadata={"description": "post-pay limit"})
    credit_used = _money(metadata={"description": "post-pay used"})
    held = _money()
    deposit_due = _money()
    deposit_paid = _money()
    available = _money(metadata={"description": "cash + coupons + (credit_limit - credit_used) - held"})
    spent_today = _money(metadata={"description": "charged today (Asia/Shanghai), as the daily budget counts it"})


class PrincipalFundsOut(FundsFiguresOut):
    org_id = fields.String()
    name = fields.String()
    daily_budget = _money(allow_none=True)


class PrincipalFundsPageOut(Schema):
    items = fields.List(fields.Nested(PrincipalFundsOut), required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True, metadata={"description": "principals that match"})
    totals = fields.Nested(FundsFiguresOut, metadata={"description": "sums over every principal that matches, "
                                                                     "not just this page"})
    at = fields.AwareDateTime(metadata={"description": "the moment of the figures"})


class AgencyEntryQuery(EntryQuery):
    org_id = fields.String(load_default=None, validate=validate.Length(min=1, max=40),
                           metadata={"description": "one principal (404 wallet_not_found if not the agency's)"})
    purpose = fields.String(load_default="general", validate=validate.OneOf(PURPOSES),
                            metadata={"description": "the principals' general or external wallets"})


class AgencyConsumptionQuery(ConsumptionQuery):
    org_id = fields.String(load_default=None, validate=validate.Length(min=1, max=40),
                           metadata={"description": "one principal (404 wallet_not_found if not the agency's)"})
    purpose = fields.String(load_default="general", validate=validate.OneOf(PURPOSES),
                            metadata={"description": "the principals' general or external wallets"})


class PrincipalSpendQuery(PrincipalFundsQuery):
    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)


class PrincipalSpendSummaryOut(Schema):
    org_id = fields.String()
    name = fields.String()
    amount = _money(metadata={"description": "spent in the range (charges and captures)"})
    cash = _money()
    normal_coupon = _money()
    traffic_coupon = _money()
    post_pay = _money()
    count = fields.Integer(metadata={"description": "how many charges and captures"})
    allocated_net = _money(metadata={"description": "what the agency allocated to it, net of reclaims, ever"})


class PrincipalSpendSummaryPageOut(Schema):
    items = fields.List(fields.Nested(PrincipalSpendSummaryOut))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    totals = fields.Nested(ConsumptionRowOut, metadata={"description": "over every principal that matches"})


class AgencyLineOut(LineOut):
    org_id = fields.String(metadata={"description": "the principal whose wallet the line is about"})
    purpose = fields.String(metadata={"description": "general or external"})
    org_name = fields.String()


# -- rendering ------------------------------------------------------------------------------------

def _period(p: Period) -> dict[str, Any]:
    return {"name": p.name, "from_": p.first, "to": p.last, "days": p.days}


def _comparison(c: Comparison) -> dict[str, Any]:
    return {"value": c.value, "previous": c.previous, "change": c.change, "change_percent": c.change_percent}


def _breakdown(f: Any) -> dict[str, Any]:
    return {"cash": f.cash, "normal_coupon": f.normal_coupon, "traffic_coupon": f.traffic_coupon,
            "post_pay": f.post_pay}


def _day(d: DaySpend) -> dict[str, Any]:
    return {"day": d.day, "spend": d.amount, "principals_with_spend": d.principals}


def _period_args(args: dict[str, Any]) -> dict[str, Any]:
    return {"period": args["period"], "first": args["from_"], "last": args["to"]}


def _figures(f: Figures, spent_today: Any) -> dict[str, Any]:
    return {"cash": f.cash, "coupons": f.coupons, "coupons_normal": f.coupons_normal,
            "coupons_traffic": f.coupons_traffic, "credit_limit": f.credit_limit, "credit_used": f.credit_used,
            "held": f.held, "deposit_due": f.deposit_due, "deposit_paid": f.deposit_paid, "available": f.available,
            "spent_today": spent_today}


def _funds_row(r: PrincipalFundsRow) -> dict[str, Any]:
    return {"org_id": r.org_id, "name": r.name, "daily_budget": r.daily_budget,
            **_figures(r.figures, r.spent_today)}


# -- views ------------------------------------------------------------------------------------------

@bp.get("/overview")
@doc(summary="Agency overview: spend, principals with spend and ARPU of a period across the authorised "
             "principals, each with the previous period of the same length, and the spend of each day",
     tags=T, query_schema=OverviewPeriodQuery, response=AgencyOverviewOut)
@authenticated
def agency_overview(caller: Caller) -> Any:
    o = overviews().overview(caller, **_period_args(query(OverviewPeriodQuery)))
    current: SpendFigures = o.current
    return dump(AgencyOverviewOut, {
        "period": _period(o.period), "previous_period": _period(o.previous_period), "principals": o.principals,
        "spend": _comparison(o.spend), "principals_with_spend": _comparison(o.principals_with_spend),
        "arpu": _comparison(o.arpu), "breakdown": _breakdown(current), "days": [_day(d) for d in o.days]})


@bp.get("/top-principals")
@doc(summary="The principals that spent most in a period (top 10 by default), with their available balance "
             "and daily budget", tags=T, query_schema=TopPrincipalsQuery, response=TopPrincipalsOut)
@authenticated
def top_principals(caller: Caller) -> Any:
    args = query(TopPrincipalsQuery)
    top = overviews().top_principals(caller, **_period_args(args), limit=args["limit"])
    items = [{"rank": i.rank, "org_id": i.org_id, "name": i.name, "spend": i.spend.amount,
              "breakdown": _breakdown(i.spend), "available": i.available, "daily_budget": i.daily_budget}
             for i in top.items]
    return dump(TopPrincipalsOut, {"period": _period(top.period), "at": top.at, "items": items})


@bp.get("/fund-anomalies")
@doc(summary="Fund anomalies: principals whose available balance will not last a day at yesterday's spend",
     tags=T, query_schema=FundAnomaliesQuery, response=FundAnomaliesOut)
@authenticated
def fund_anomalies(caller: Caller) -> Any:
    query(FundAnomaliesQuery)
    found = overviews().fund_anomalies(caller)
    items = [{"org_id": n.anomaly.org_id, "name": n.name, "yesterday_spend": n.anomaly.yesterday_spend,
              "available": n.anomaly.available, "shortfall": n.anomaly.shortfall, "days_left": n.anomaly.days_left,
              "daily_budget": n.anomaly.funds.daily_budget} for n in found.items]
    return dump(FundAnomaliesOut, {"day": found.day, "at": found.at, "items": items})


@bp.get("/performance")
@doc(summary="Performance: principals with spend > 0 (and their spend) per month, per quarter and in a year",
     tags=T, query_schema=PerformanceQuery, response=PerformanceOut)
@authenticated
def performance(caller: Caller) -> Any:
    p = overviews().performance(caller, query(PerformanceQuery)["year"])
    return dump(PerformanceOut, p)


@bp.get("/principals/funds")
@doc(summary="Funds of each authorised principal now (cash, coupons, post-pay, held, deposit, available, daily "
             "budget, spent today), by name, with the totals of every principal that matches",
     tags=T, query_schema=PrincipalFundsQuery, response=PrincipalFundsPageOut, paged=True)
@authenticated
def principal_funds(caller: Caller) -> Any:
    args = query(PrincipalFundsQuery)
    found = statements().funds(caller, page_request(args), args["q"], args["purpose"])
    p = found.page
    return dump(PrincipalFundsPageOut, {
        "items": [_funds_row(r) for r in p.items], **page_fields(p),
        "totals": _figures(found.totals.figures, found.totals.spent_today), "at": found.at})


@bp.get("/consumption")
@doc(summary="Consumption of all authorised principals together (or of one: org_id) by day or month: amount, "
             "cash, coupons by kind, post-pay", tags=T, query_schema=AgencyConsumptionQuery, response=ConsumptionOut)
@authenticated
def agency_consumption(caller: Caller) -> Any:
    args = query(AgencyConsumptionQuery)
    rows = statements().consumption(caller, args["granularity"], args["from_"], args["to"],
                                    args["org_id"], args["purpose"])
    return dump(ConsumptionOut, {"granularity": args["granularity"], "items": rows,
                                 "total": ConsumptionRow.total(rows)})


@bp.get("/principals/spend")
@doc(summary="Each authorised principal's spend in a range by source (zeros included), most spend first, with "
             "what the agency allocated to it, and the totals of every principal that matches",
     tags=T, query_schema=PrincipalSpendQuery, response=PrincipalSpendSummaryPageOut, paged=True)
@authenticated
def principal_spend(caller: Caller) -> Any:
    args = query(PrincipalSpendQuery)
    found = statements().spend(caller, args["from_"].isoformat(), args["to"].isoformat(), page_request(args),
                               args["q"], args["purpose"])
    p = found.page
    items = [{**dataclasses.asdict(r.spend), "org_id": r.org_id, "name": r.name, "allocated_net": r.allocated_net}
             for r in p.items]
    return dump(PrincipalSpendSummaryPageOut, {"items": items, **page_fields(p), "totals": found.totals})


@bp.get("/principals/entries")
@doc(summary="Statement lines of all authorised principals merged, newest first (filters: type, from, to, "
             "reference, org_id), each with the principal's id and name",
     tags=T, query_schema=AgencyEntryQuery, response=paged(AgencyLineOut, "AgencyEntryPage"), paged=True)
@authenticated
def principal_entries(caller: Caller) -> Any:
    args = query(AgencyEntryQuery)
    flt = LineFilter(type=args["type"], reference=args["reference"],
                     since=_moment(args["from_"], "from", end=False), until=_moment(args["to"], "to", end=True))
    page = statements().entries(caller, page_request(args), flt, args["org_id"], args["purpose"])
    items = [{**_line(n.line, caller), "org_id": org_of(n.line.org_id), "purpose": split_key(n.line.org_id)[1],
              "org_name": n.org_name} for n in page.items]
    return dump_page(AgencyLineOut, page, items)
