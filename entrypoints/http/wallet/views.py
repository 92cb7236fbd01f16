"""Wallet endpoints: thin views over WalletService and RechargeService.

Every POST that moves money honours ``Idempotency-Key`` (api.md). Charges and holds are
also unique per (wallet, reference): a repeat answers the first entry with
``replayed: true`` and status 200 instead of 201.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from application.shared.access import Caller
from application.shared.clock import Clock, parse_at, parse_moment
from application.shared.paging import Page
from application.wallet import (
    BadNotification,
    EntryResult,
    GatewayUnavailable,
    HoldResult,
    RechargeService,
    WalletService,
    WalletView,
)
from application.wallet.visibility import shown_details, shown_entry, shown_refusal
from domain.shared.errors import DomainError
from domain.wallet.errors import DailyBudgetExceeded, InsufficientFunds, PaymentMismatch
from domain.wallet.model import Figures, Hold, Recharge, StatementLine, Withdrawal
from domain.wallet.ports import ConsumptionRow, LineFilter
from entrypoints.http.api import (
    body,
    doc,
    dump,
    dump_page,
    idempotent,
    page_request,
    query,
    reject_nul,
    reject_nul_in_path,
)
from entrypoints.http.auth import authenticated, service
from entrypoints.http.errors import ApiError, error_body
from entrypoints.http.schemas import NO_BODY, NoBody, PagedQuery, paged
from entrypoints.http.wallet import schemas as s

bp = Blueprint("wallet", __name__, url_prefix="/api/v1")
bp.url_value_preprocessor(reject_nul_in_path)
T = ["wallet"]
# schema instances reused on the hot paths (building one per request costs more than the charge's SQL)
CHARGE_IN, HOLD_IN, CAPTURE_IN, ENTRY_OUT = s.ChargeIn(), s.HoldIn(), s.CaptureIn(), s.EntryOut()


def wallets() -> WalletService:
    return service(WalletService)  # type: ignore[no-any-return]


def recharges() -> RechargeService:
    return service(RechargeService)  # type: ignore[no-any-return]


@bp.errorhandler(BadNotification)
def _bad_notification(exc: DomainError) -> Any:
    return jsonify(error_body(exc.code, exc.message, exc.details)), 400


@bp.errorhandler(GatewayUnavailable)
def _gateway_down(exc: DomainError) -> Any:
    return jsonify(error_body(exc.code, exc.message, exc.details)), 503


@bp.errorhandler(InsufficientFunds)
@bp.errorhandler(DailyBudgetExceeded)
def _refused(exc: DomainError) -> Any:
    message, details = shown_refusal(g.get("caller"), exc)
    return jsonify(error_body(exc.code, message, details)), 409


# -- rendering (what the caller may see: application/wallet/visibility.py) -----------------------

def _balances(f: Figures) -> dict[str, Decimal]:
    return dict(cash=f.cash, coupons=f.coupons, coupons_normal=f.coupons_normal, coupons_traffic=f.coupons_traffic,
                credit_limit=f.credit_limit, credit_used=f.credit_used, held=f.held, deposit_due=f.deposit_due,
                deposit_paid=f.deposit_paid, available=f.available)


def _line(ln: StatementLine, caller: Caller) -> dict[str, Any]:
    return dict(entry_id=ln.entry_id, seq=ln.seq, type=ln.type, created_at=ln.created_at, reference=ln.reference,
                amount=ln.amount, breakdown=ln.breakdown, balances_after=_balances(ln.after),
                counterparty_org_id=ln.counterparty_org_id, note=ln.note,
                details=shown_details(caller, dict(ln.details)))


def _entry(result: EntryResult, caller: Caller) -> dict[str, Any]:
    shown = shown_entry(caller, result)
    return dict(id=shown.id, type=shown.type, org_id=shown.org_id, amount=shown.amount, reference=shown.reference,
                created_at=shown.created_at, breakdown=shown.breakdown,
                balances_after=_balances(shown.balances_after) if shown.balances_after else None,
                payees=[{"org_id": o, "amount": a} for o, a in shown.payees],
                counterparty_org_id=shown.counterparty_org_id, note=shown.note, details=shown.details,
                replayed=shown.replayed)


def _wallet(view: WalletView) -> dict[str, Any]:
    f = view.figures
    return dict(org_id=view.org_id, at=view.at, historical=view.historical, cash=f.cash, coupons=f.coupons,
                coupons_by_kind={"normal": f.coupons_normal, "traffic": f.coupons_traffic},
                coupon_grants=view.grants, credit_limit=f.credit_limit, credit_used=f.credit_used, held=f.held,
                deposit_due=f.deposit_due, deposit_paid=f.deposit_paid, available=f.available,
                daily_budget=view.daily_budget, spent_today=view.spent_today,
                low_balance_threshold=view.low_balance_threshold, low_balance_alerted=view.low_balance_alerted,
                withholding_active=view.withholding_active)


def _recharge(r: Recharge, entry: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**r.__dict__, "entry": entry}


def _hold(result: HoldResult | Hold) -> dict[str, Any]:
    if isinstance(result, HoldResult):
        return {**result.hold.__dict__, "replayed": result.replayed}
    return {**result.__dict__, "replayed": False}


def _payees(rows: list[dict[str, Any]]) -> list[tuple[str, Decimal]]:
    return [(p["org_id"], p["amount"]) for p in rows]


def _moment(raw: str | None, field: str, *, end: bool = False, at: bool = False) -> datetime | None:
    """A date means that day in the platform time zone (``to`` includes it; ``at``: its
    end, ``parse_at``); a timestamp must carry its offset."""
    if raw is None:
        return None
    tz = service(Clock).tz
    try:
        return parse_at(raw, tz) if at else parse_moment(raw, tz, end=end)
    except ValueError as exc:
        raise ApiError(422, "validation_failed", f"invalid field {field}", {field: [str(exc)]}) from None


# -- wallet and statements -------------------------------------------------------------------

@bp.get("/wallets/<org_id>")
@doc(summary="A wallet's figures (now, or at a past moment with ?at=); all money as decimal strings",
     tags=T, query_schema=s.WalletQuery, response=s.WalletOut)
@authenticated
def get_wallet(caller: Caller, org_id: str) -> Any:
    args = query(s.WalletQuery)
    return dump(s.WalletOut, _wallet(wallets().wallet(caller, org_id, _moment(args["at"], "at", at=True))))


@bp.get("/wallets/<org_id>/entries")
@doc(summary="Statement: entries with their breakdown and the balances after each "
             "(filters: type, from, to, reference)", tags=T, query_schema=s.EntryQuery,
     response=paged(s.LineOut, "WalletEntryPage"), paged=True)
@authenticated
def list_entries(caller: Caller, org_id: str) -> Any:
    args = query(s.EntryQuery)
    flt = LineFilter(type=args["type"], reference=args["reference"],
                     since=_moment(args["from_"], "from", end=False), until=_moment(args["to"], "to", end=True))
    page = wallets().entries(caller, org_id, page_request(args), flt)
    return dump_page(s.LineOut, page, [_line(ln, caller) for ln in page.items])


@bp.get("/wallets/<org_id>/entries/<entry_id>")
@doc(summary="One entry as this wallet sees it", tags=T, response=s.EntryOut)
@authenticated
def get_entry(caller: Caller, org_id: str, entry_id: str) -> Any:
    return dump(s.EntryOut, _entry(wallets().entry(caller, org_id, entry_id), caller))


@bp.get("/wallets/<org_id>/consumption")
@doc(summary="Consumption (charges and captures) by day or month: amount, cash, coupons by kind, post-pay",
     tags=T, query_schema=s.ConsumptionQuery, response=s.ConsumptionOut)
@authenticated
def consumption(caller: Caller, org_id: str) -> Any:
    args = query(s.ConsumptionQuery)
    rows = wallets().consumption(caller, org_id, args["granularity"], args["from_"], args["to"])
    return dump(s.ConsumptionOut, {"granularity": args["granularity"], "items": rows,
                                   "total": ConsumptionRow.total(rows)})


# -- recharges ---------------------------------------------------------------------------------

@bp.post("/wallets/<org_id>/recharges")
@doc(summary="Recharge: offline (platform finance, credited at once) or online (owner; answers a pending "
             "recharge with its payment_url)", tags=T, body_schema=s.RechargeIn, response=s.RechargeOut,
     status=201, errors=(409, 503))
@authenticated
@idempotent
def create_recharge(caller: Caller, org_id: str) -> Any:
    data = body(s.RechargeIn)
    result = recharges().recharge(caller, org_id, data["amount"], data["channel"], data["note"])
    entry = _entry(result.entry, caller) if result.entry else None
    return dump(s.RechargeOut, _recharge(result.recharge, entry), 201)


@bp.get("/wallets/<org_id>/recharges")
@doc(summary="Recharges of a wallet", tags=T, query_schema=s.RechargeQuery,
     response=paged(s.RechargeOut, "RechargePage"), paged=True)
@authenticated
def list_recharges(caller: Caller, org_id: str) -> Any:
    args = query(s.RechargeQuery)
    page = recharges().recharges(caller, org_id, page_request(args), args["status"])
    return dump_page(s.RechargeOut, page, [_recharge(r) for r in page.items])


@bp.get("/wallets/<org_id>/recharges/<recharge_id>")
@doc(summary="One recharge", tags=T, response=s.RechargeOut)
@authenticated
def get_recharge(caller: Caller, org_id: str, recharge_id: str) -> Any:
    return dump(s.RechargeOut, _recharge(recharges().get_recharge(caller, org_id, recharge_id)))


@bp.post("/wallets/<org_id>/recharges/<recharge_id>/revoke")
@doc(summary="Revoke an offline recharge once, while the wallet still has that much (409 revoke_not_covered)",
     tags=T, body_schema=s.RevokeIn, response=s.EntryOut, status=201, errors=(409,))
@authenticated
@idempotent
def revoke_recharge(caller: Caller, org_id: str, recharge_id: str) -> Any:
    data = body(s.RevokeIn)
    return dump(s.EntryOut, _entry(recharges().revoke(caller, org_id, recharge_id, data["note"]), caller), 201)


@bp.post("/payments/<channel>/notify")
@doc(summary="A payment gateway's notification (form or JSON). Verified by signature; credits the recharge "
             "once; 400 for a bad signature, an unknown trade or an amount mismatch (flagged)",
     tags=["payments"], auth=False, errors=(400,))
@idempotent
def payment_notify(channel: str) -> Any:
    if request.mimetype == "application/json":
        raw = request.get_json(silent=True)
        if not isinstance(raw, dict):
            raise ApiError(400, "malformed_json", "notification must be a JSON object or a form")
        params = {str(k): "" if v is None else str(v) for k, v in raw.items()}
    else:
        params = request.form.to_dict()
    reject_nul(params)
    svc = recharges()
    try:
        svc.handle_notification(channel, params)
    except PaymentMismatch as exc:
        return jsonify(error_body(exc.code, exc.message, exc.details)), 400
    text, mimetype = svc.gateways.get(channel).ack()
    return current_app.response_class(text, status=200, mimetype=mimetype.split(";")[0])


# -- charges and holds -------------------------------------------------------------------------------

@bp.post("/wallets/<org_id>/charges")
@doc(summary="Charge (消耗): coupons of the kind (soonest expiry first), normal coupons, cash, then credit; "
             "payees (platform only) receive their part in the same entry. 409 insufficient_funds / "
             "daily_budget_exceeded / withholding_agreement_required / duplicate_reference",
     tags=T, body_schema=s.ChargeIn, response=s.EntryOut, status=201, errors=(409,),
     also={200: s.EntryOut})  # 200: a repeat of the same reference answers the first entry (replayed)
@authenticated
@idempotent
def charge(caller: Caller, org_id: str) -> Any:
    data = body(CHARGE_IN)
    result = wallets().charge(caller, org_id, data["amount"], data["reference"], coupon_kind=data["coupon_kind"],
                              payees=_payees(data["payees"]), note=data["note"])
    return dump(ENTRY_OUT, _entry(result, caller), 200 if result.replayed else 201)


@bp.post("/wallets/<org_id>/holds")
@doc(summary="Hold (订单冻结) part of the available balance for a pending order until expires_at",
     tags=T, body_schema=s.HoldIn, response=s.HoldOut, status=201, errors=(409,),
     also={200: s.HoldOut})  # 200: a repeat of the same reference answers the first hold (replayed)
@authenticated
@idempotent
def create_hold(caller: Caller, org_id: str) -> Any:
    data = body(HOLD_IN)
    result = wallets().hold(caller, org_id, data["amount"], data["reference"], data["expires_at"],
                            data["coupon_kind"])
    return dump(s.HoldOut, _hold(result), 200 if result.replayed else 201)


@bp.get("/wallets/<org_id>/holds")
@doc(summary="Holds of a wallet", tags=T, query_schema=s.HoldQuery, response=paged(s.HoldOut, "HoldPage"),
     paged=True)
@authenticated
def list_holds(caller: Caller, org_id: str) -> Any:
    args = query(s.HoldQuery)
    page = wallets().holds(caller, org_id, page_request(args), args["status"])
    return dump_page(s.HoldOut, page, [_hold(h) for h in page.items])


@bp.get("/holds/<hold_id>")
@doc(summary="One hold", tags=T, response=s.HoldOut)
@authenticated
def get_hold(caller: Caller, hold_id: str) -> Any:
    return dump(s.HoldOut, _hold(wallets().get_hold(caller, hold_id)))


@bp.post("/holds/<hold_id>/capture")
@doc(summary="Capture all or part of a hold as a charge (with payees, platform only); the rest is released",
     tags=T, body_schema=s.CaptureIn, response=s.EntryOut, status=201, errors=(409,))
@authenticated
@idempotent
def capture_hold(caller: Caller, hold_id: str) -> Any:
    data = body(CAPTURE_IN)
    result = wallets().capture(caller, hold_id, data["amount"], _payees(data["payees"]))
    return dump(ENTRY_OUT, _entry(result, caller), 201)


@bp.post("/holds/<hold_id>/release")
@doc(summary="Release a hold", tags=T, body_schema=NoBody, response=s.HoldOut, errors=(409,))
@authenticated
@idempotent
def release_hold(caller: Caller, hold_id: str) -> Any:
    body(NO_BODY)  # a release names its hold in the path: anything sent is refused (422)
    return dump(s.HoldOut, _hold(wallets().release(caller, hold_id)))


# -- allocation and coupons ----------------------------------------------------------------------------

@bp.post("/wallets/<org_id>/allocations")
@doc(summary="Allocate (分配) money from the agency's wallet to an authorised principal's", tags=T,
     body_schema=s.AllocationIn, response=s.EntryOut, status=201, errors=(409,))
@authenticated
@idempotent
def allocate(caller: Caller, org_id: str) -> Any:
    data = body(s.AllocationIn)
    result = wallets().allocate(caller, org_id, data["to_org_id"], data["amount"], data["note"])
    return dump(s.EntryOut, _entry(result, caller), 201)


@bp.post("/wallets/<org_id>/reclaims")
@doc(summary="Take unspent allocated money back from a principal (at most what was allocated, net)", tags=T,
     body_schema=s.ReclaimIn, response=s.EntryOut, status=201, errors=(409,))
@authenticated
@idempotent
def reclaim(caller: Caller, org_id: str) -> Any:
    data = body(s.ReclaimIn)
    result = wallets().reclaim(caller, org_id, data["from_org_id"], data["amount"], data["note"])
    return dump(s.EntryOut, _entry(result, caller), 201)


@bp.post("/wallets/<org_id>/coupons")
@doc(summary="Grant a coupon (红包): by the platform, or by an agency to its principal from its own cash",
     tags=T, body_schema=s.CouponIn, response=s.CouponGrantOut, status=201, errors=(409,))
@authenticated
@idempotent
def grant_coupon(caller: Caller, org_id: str) -> Any:
    data = body(s.CouponIn)
    grant, result = wallets().grant_coupon(caller, org_id, data["kind"], data["amount"], data["expires_at"],
                                           data["note"])
    return dump(s.CouponGrantOut, {**grant.__dict__, "entry": _entry(result, caller)}, 201)


@bp.get("/wallets/<org_id>/coupons")
@doc(summary="Coupon grants of a wallet (live ones, or all with include_spent)", tags=T,
     query_schema=s.CouponQuery, response=paged(s.CouponOut, "CouponPage"), paged=True)
@authenticated
def list_coupons(caller: Caller, org_id: str) -> Any:
    args = query(s.CouponQuery)
    return dump_page(s.CouponOut, wallets().grants(caller, org_id, page_request(args), args["include_spent"]))


# -- withdrawals -------------------------------------------------------------------------------------

@bp.post("/wallets/<org_id>/withdrawals")
@doc(summary="Refund / withdraw cash through the channel it came in by (owner only); pending until the "
             "gateway confirms; a failed refund returns the money", tags=T, body_schema=s.WithdrawalIn,
     response=s.WithdrawalOut, status=201, errors=(409,))
@authenticated
@idempotent
def withdraw(caller: Caller, org_id: str) -> Any:
    data = body(s.WithdrawalIn)
    result: Withdrawal = recharges().withdraw(caller, org_id, data["amount"], data["recharge_id"], data["reason"])
    return dump(s.WithdrawalOut, result, 201)


@bp.get("/wallets/<org_id>/withdrawals")
@doc(summary="Withdrawals of a wallet, newest first (filter: status)", tags=T, query_schema=s.WithdrawalQuery,
     response=paged(s.WithdrawalOut, "WithdrawalPage"), paged=True)
@authenticated
def list_withdrawals(caller: Caller, org_id: str) -> Any:
    args = query(s.WithdrawalQuery)
    page = recharges().withdrawals(caller, org_id, page_request(args), args["status"])
    return dump_page(s.WithdrawalOut, page)


@bp.get("/wallets/<org_id>/withdrawals/<withdrawal_id>")
@doc(summary="One withdrawal", tags=T, response=s.WithdrawalOut)
@authenticated
def get_withdrawal(caller: Caller, org_id: str, withdrawal_id: str) -> Any:
    return dump(s.WithdrawalOut, recharges().get_withdrawal(caller, org_id, withdrawal_id))


# -- credit, deposit, budget, alert --------------------------------------------------------------------

@bp.put("/wallets/<org_id>/credit-limit")
@doc(summary="Set the credit line (授信; platform admin); never below what is used", tags=T,
     body_schema=s.CreditLimitIn, response=s.WalletOut, errors=(409,))
@authenticated
def set_credit_limit(caller: Caller, org_id: str) -> Any:
    data = body(s.CreditLimitIn)
    return dump(s.WalletOut, _wallet(wallets().set_credit_limit(caller, org_id, data["credit_limit"], data["note"])))


@bp.put("/wallets/<org_id>/deposit")
@doc(summary="Set the deposit due (保证金; platform admin)", tags=T, body_schema=s.DepositDueIn,
     response=s.WalletOut)
@authenticated
def set_deposit_due(caller: Caller, org_id: str) -> Any:
    data = body(s.DepositDueIn)
    return dump(s.WalletOut, _wallet(wallets().set_deposit_due(caller, org_id, data["deposit_due"], data["note"])))


@bp.post("/wallets/<org_id>/deposit/payments")
@doc(summary="Pay the deposit from cash (owner); paid deposit is frozen", tags=T, body_schema=s.DepositPayIn,
     response=s.EntryOut, status=201, errors=(409,))
@authenticated
@idempotent
def pay_deposit(caller: Caller, org_id: str) -> Any:
    data = body(s.DepositPayIn)
    return dump(s.EntryOut, _entry(wallets().pay_deposit(caller, org_id, data["amount"]), caller), 201)


@bp.post("/wallets/<org_id>/deposit/refunds")
@doc(summary="Refund paid deposit to cash (platform admin, when the relation ends)", tags=T,
     body_schema=s.DepositRefundIn, response=s.EntryOut, status=201, errors=(409,))
@authenticated
@idempotent
def refund_deposit(caller: Caller, org_id: str) -> Any:
    data = body(s.DepositRefundIn)
    result = wallets().refund_deposit(caller, org_id, data["amount"], data["note"])
    return dump(s.EntryOut, _entry(result, caller), 201)


@bp.put("/wallets/<org_id>/budget")
@doc(summary="Set or remove the daily budget (Asia/Shanghai day): owner, its agency, or the platform", tags=T,
     body_schema=s.BudgetIn, response=s.WalletOut)
@authenticated
def set_budget(caller: Caller, org_id: str) -> Any:
    data = body(s.BudgetIn)
    return dump(s.WalletOut, _wallet(wallets().set_daily_budget(caller, org_id, data["daily_budget"])))


@bp.put("/wallets/<org_id>/low-balance-alert")
@doc(summary="Set or remove the low-balance alert threshold (one notification per downward crossing)",
     tags=T, body_schema=s.ThresholdIn, response=s.WalletOut)
@authenticated
def set_threshold(caller: Caller, org_id: str) -> Any:
    data = body(s.ThresholdIn)
    return dump(s.WalletOut, _wallet(wallets().set_low_balance_threshold(caller, org_id, data["threshold"])))


# -- withholding agreements ---------------------------------------------------------------------------

@bp.post("/wallets/<org_id>/withholding-agreements")
@doc(summary="Bind an enterprise payment account for withholding (代收代扣); pending until the platform "
             "confirms", tags=T, body_schema=s.AgreementIn, response=s.AgreementOut, status=201, errors=(409,))
@authenticated
def bind_agreement(caller: Caller, org_id: str) -> Any:
    data = body(s.AgreementIn)
    agreement = wallets().bind_agreement(caller, org_id, data["account"], data["account_name"],
                                         data["account_type"])
    return dump(s.AgreementOut, agreement, 201)


@bp.get("/wallets/<org_id>/withholding-agreements")
@doc(summary="Withholding agreements of an organisation, newest first (a few per organisation)", tags=T,
     query_schema=PagedQuery, response=paged(s.AgreementOut, "AgreementPage"), paged=True)
@authenticated
def list_agreements(caller: Caller, org_id: str) -> Any:
    page = page_request(query(PagedQuery))  # unknown parameters are refused, as on every list
    items = wallets().agreements(caller, org_id)
    return dump_page(s.AgreementOut, Page(items[page.offset:page.offset + page.per_page], page.page, page.per_page,
                                          len(items)))


@bp.post("/wallets/<org_id>/withholding-agreements/<agreement_id>/confirm")
@doc(summary="Confirm a pending agreement (platform admin): charges without a per-order payment are allowed",
     tags=T, response=s.AgreementOut, errors=(409,))
@authenticated
def confirm_agreement(caller: Caller, org_id: str, agreement_id: str) -> Any:
    body(NO_BODY)  # anything sent is refused (422)
    return dump(s.AgreementOut, wallets().confirm_agreement(caller, org_id, agreement_id))


@bp.post("/wallets/<org_id>/withholding-agreements/<agreement_id>/revoke")
@doc(summary="Revoke an agreement (owner or platform admin)", tags=T, response=s.AgreementOut, errors=(409,))
@authenticated
def revoke_agreement(caller: Caller, org_id: str, agreement_id: str) -> Any:
    body(NO_BODY)  # anything sent is refused (422)
    return dump(s.AgreementOut, wallets().revoke_agreement(caller, org_id, agreement_id))

