"""Request and response schemas of the wallet API. Money travels as decimal strings
with two places (``"12.30"``); a JSON number is accepted only if it has at most two
decimal places, and anything else is 422 naming the field."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from domain.shared.money import CENT
from domain.wallet.ledger import COUPON_KINDS, ENTRY_TYPES
from domain.wallet.model import MAX_NOTE, MAX_REFERENCE, RECHARGE_CHANNELS
from entrypoints.http.schemas import PagedQuery, Strict

MAX_AMOUNT = Decimal("9999999999999999.99")  # NUMERIC(18, 2)
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")  # ASCII digits, an optional fraction


class Money(fields.Field):
    """A decimal amount in, a 2-place decimal string out."""

    def __init__(self, *, positive: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.positive = positive

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return str(Decimal(value).quantize(CENT))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationError("must be a decimal string such as \"12.30\"")
        if isinstance(value, str) and not _DECIMAL.fullmatch(value):
            # not Decimal()'s grammar: it takes "1_000", "1e3", " 5", "+5", ".5" and other
            # scripts' digits, so a typo would become an amount
            raise ValidationError("must be a decimal string such as \"12.30\"")
        try:
            amount = Decimal(repr(value) if isinstance(value, float) else str(value))
        except (InvalidOperation, ValueError):
            raise ValidationError("is not a decimal number") from None
        if not amount.is_finite():
            raise ValidationError("must be finite")
        if abs(amount) > MAX_AMOUNT:
            raise ValidationError("is too large")
        if amount != amount.quantize(CENT):
            raise ValidationError("has more than 2 decimal places")
        if self.positive and amount <= 0:
            raise ValidationError("must be greater than 0")
        if amount < 0:
            raise ValidationError("must not be negative")
        return amount.quantize(CENT)


def _money_out(**kwargs: Any) -> Money:
    return Money(dump_only=True, **kwargs)


def _note() -> fields.String:
    return fields.String(validate=validate.Length(max=MAX_NOTE), load_default=None, allow_none=True)


class PayeeIn(Strict):
    org_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    amount = Money(required=True)


class PayeeOut(Schema):
    org_id = fields.String()
    amount = _money_out()


# -- wallet ---------------------------------------------------------------------------------

class WalletQuery(Strict):
    at = fields.String(load_default=None, metadata={
        "description": "figures at a past moment: an ISO timestamp with offset, or a date (platform time "
                       "zone): the figures at the end of that day"})


class CouponOut(Schema):
    id = fields.String()
    kind = fields.String()
    amount = _money_out()
    remaining = _money_out()
    expires_at = fields.AwareDateTime()
    granted_by = fields.String(metadata={"description": "platform, or the granting agency's organisation id"})
    created_at = fields.AwareDateTime()
    lapsed_at = fields.AwareDateTime(allow_none=True)


class CouponsByKind(Schema):
    normal = _money_out()
    traffic = _money_out()


class WalletOut(Schema):
    org_id = fields.String()
    at = fields.AwareDateTime(metadata={"description": "the moment the figures describe"})
    historical = fields.Boolean()
    cash = _money_out()
    coupons = _money_out(metadata={"description": "unexpired coupons, all kinds"})
    coupons_by_kind = fields.Nested(CouponsByKind)
    coupon_grants = fields.List(fields.Nested(CouponOut))
    credit_limit = _money_out()
    credit_used = _money_out()
    held = _money_out()
    deposit_due = _money_out()
    deposit_paid = _money_out()
    available = _money_out(metadata={"description": "cash + coupons + (credit_limit - credit_used) - held"})
    daily_budget = _money_out(allow_none=True)
    spent_today = _money_out()
    low_balance_threshold = _money_out(allow_none=True)
    low_balance_alerted = fields.Boolean()
    withholding_active = fields.Boolean()


class BreakdownOut(Schema):
    cash = _money_out()
    normal_coupon = _money_out()
    traffic_coupon = _money_out()
    post_pay = _money_out()


class BalancesOut(Schema):
    cash = _money_out()
    coupons = _money_out()
    coupons_normal = _money_out()
    coupons_traffic = _money_out()
    credit_limit = _money_out()
    credit_used = _money_out()
    held = _money_out()
    deposit_due = _money_out()
    deposit_paid = _money_out()
    available = _money_out()


class LineOut(Schema):
    """An entry as one wallet sees it."""

    entry_id = fields.String()
    seq = fields.Integer(metadata={"description": "orders this wallet's rows"})
    type = fields.String(metadata={"description": " | ".join(ENTRY_TYPES)})
    created_at = fields.AwareDateTime()
    reference = fields.String(allow_none=True)
    amount = Money(dump_only=True, positive=False,
                   metadata={"description": "signed change of spendable value (cash, coupons, post-pay)"})
    breakdown = fields.Nested(BreakdownOut)
    balances_after = fields.Nested(BalancesOut)
    counterparty_org_id = fields.String(allow_none=True)
    note = fields.String()
    details = fields.Dict(keys=fields.String(), values=fields.String())


class EntryQuery(PagedQuery):
    type = fields.String(load_default=None, validate=validate.OneOf(ENTRY_TYPES))
    reference = fields.String(load_default=None, validate=validate.Length(min=1, max=MAX_REFERENCE))
    from_ = fields.String(data_key="from", load_default=None,
                          metadata={"description": "a date (platform time zone) or an ISO timestamp"})
    to = fields.String(load_default=None, metadata={"description": "a date (inclusive) or an ISO timestamp "
                                                                     "(exclusive)"})


class EntryOut(Schema):
    """A journal entry written by a command, from the point of view of ``org_id``."""

    id = fields.String()
    type = fields.String()
    org_id = fields.String()
    amount = _money_out()
    reference = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    breakdown = fields.Nested(BreakdownOut)
    balances_after = fields.Nested(BalancesOut, allow_none=True)
    payees = fields.List(fields.Nested(PayeeOut), metadata={"description": "platform callers only"})
    counterparty_org_id = fields.String(allow_none=True)
    note = fields.String()
    details = fields.Dict(keys=fields.String(), values=fields.String())
    replayed = fields.Boolean(metadata={"description": "true when the reference was already charged"})


def _report_day() -> dict[str, Any]:
    # checked by the service (422 invalid_date): a date, or by month also a month
    return dict(required=True, validate=validate.Regexp(r"^\d{4}-\d{2}(-\d{2})?$", error="Not a valid date."),
                metadata={"description": "YYYY-MM-DD; by month also YYYY-MM"})


class ConsumptionQuery(Strict):
    granularity = fields.String(load_default="day", validate=validate.OneOf(["day", "month"]))
    from_ = fields.String(data_key="from", **_report_day())
    to = fields.String(**_report_day())


class ConsumptionRowOut(Schema):
    period = fields.String(metadata={"description": "YYYY-MM-DD or YYYY-MM, platform time zone"})
    amount = _money_out()
    cash = _money_out()
    normal_coupon = _money_out()
    traffic_coupon = _money_out()
    post_pay = _money_out()
    count = fields.Integer()


class ConsumptionOut(Schema):
    granularity = fields.String()
    items = fields.List(fields.Nested(ConsumptionRowOut))
    total = fields.Nested(ConsumptionRowOut)


# -- recharges -------------------------------------------------------------------------------

class RechargeIn(Strict):
    amount = Money(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(RECHARGE_CHANNELS))
    note = _note()


class RechargeOut(Schema):
    id = fields.String()
    org_id = fields.String()
    channel = fields.String()
    amount = _money_out()
    status = fields.String(metadata={"description": "pending | paid | failed | revoked"})
    payment_url = fields.String(allow_none=True)
    note = fields.String()
    created_at = fields.AwareDateTime()
    paid_at = fields.AwareDateTime(allow_none=True)
    entry_id = fields.String(allow_none=True)
    credit_repaid = _money_out()
    refunded = _money_out()
    revoked_at = fields.AwareDateTime(allow_none=True)
    flag = fields.String(allow_none=True)
    failure = fields.String()
    entry = fields.Nested(EntryOut, allow_none=True)


class RechargeQuery(PagedQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(["pending", "paid", "failed", "revoked"]))


class WithdrawalQuery(PagedQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(["pending", "succeeded", "failed"]))


class RevokeIn(Strict):
    note = _note()


# -- charges and holds ------------------------------------------------------------------------

class ChargeIn(Strict):
    amount = Money(required=True)
    # blank (empty or only spaces) is the domain's invalid_reference, as api.md says
    reference = fields.String(required=True, validate=validate.Length(max=MAX_REFERENCE))
    coupon_kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(COUPON_KINDS))
    payees = fields.List(fields.Nested(PayeeIn), load_default=list, validate=validate.Length(max=10))
    note = _note()


class HoldIn(Strict):
    amount = Money(required=True)
    # blank (empty or only spaces) is the domain's invalid_reference, as api.md says
    reference = fields.String(required=True, validate=validate.Length(max=MAX_REFERENCE))
    expires_at = fields.AwareDateTime(required=True)
    coupon_kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(COUPON_KINDS))


class HoldOut(Schema):
    id = fields.String()
    org_id = fields.String()
    reference = fields.String()
    amount = _money_out()
    coupon_kind = fields.String()
    status = fields.String(metadata={"description": "active | captured | released | expired"})
    captured = _money_out()
    expires_at = fields.AwareDateTime()
    created_at = fields.AwareDateTime()
    settled_at = fields.AwareDateTime(allow_none=True)
    entry_id = fields.String(allow_none=True)
    settle_entry_id = fields.String(allow_none=True)
    replayed = fields.Boolean()


class HoldQuery(PagedQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(["active", "captured", "released", "expired"]))


class CaptureIn(Strict):
    amount = Money(load_default=None, allow_none=True,
                   metadata={"description": "default: the whole hold; the rest is released"})
    payees = fields.List(fields.Nested(PayeeIn), load_default=list, validate=validate.Length(max=10))


# -- allocation, coupons ----------------------------------------------------------------------

class AllocationIn(Strict):
    to_org_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    amount = Money(required=True)
    note = _note()


class ReclaimIn(Strict):
    from_org_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    amount = Money(required=True)
    note = _note()


class CouponIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(COUPON_KINDS))
    amount = Money(required=True)
    expires_at = fields.AwareDateTime(required=True)
    note = _note()


class CouponGrantOut(CouponOut):
    entry = fields.Nested(EntryOut)


class CouponQuery(PagedQuery):
    include_spent = fields.Boolean(load_default=False)


# -- withdrawals ----------------------------------------------------------------------------------

class WithdrawalIn(Strict):
    amount = Money(required=True)
    recharge_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=40),
                                metadata={"description": "the online recharge to refund (default: the newest "
                                                         "with enough left)"})
    reason = _note()


class WithdrawalOut(Schema):
    id = fields.String()
    org_id = fields.String()
    recharge_id = fields.String()
    channel = fields.String()
    amount = _money_out()
    status = fields.String(metadata={"description": "pending | succeeded | failed (money returned)"})
    reason = fields.String()
    detail = fields.String()
    created_at = fields.AwareDateTime()
    settled_at = fields.AwareDateTime(allow_none=True)


# -- credit, deposit, settings --------------------------------------------------------------------

class CreditLimitIn(Strict):
    credit_limit = Money(required=True, positive=False)
    note = _note()


class DepositDueIn(Strict):
    deposit_due = Money(required=True, positive=False)
    note = _note()


class DepositPayIn(Strict):
    amount = Money(load_default=None, allow_none=True, metadata={"description": "default: what is outstanding"})


class DepositRefundIn(Strict):
    amount = Money(load_default=None, allow_none=True, metadata={"description": "default: all paid deposit"})
    note = _note()


class BudgetIn(Strict):
    daily_budget = Money(required=True, allow_none=True, positive=False,
                         metadata={"description": "null removes the budget"})


class ThresholdIn(Strict):
    threshold = Money(required=True, allow_none=True, positive=False,
                      metadata={"description": "alert when available drops below; null: no alert"})


class AgreementIn(Strict):
    account = fields.String(required=True, validate=validate.Length(min=1, max=100),
                            metadata={"description": "the enterprise payment account (e.g. Alipay login)"})
    account_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    account_type = fields.String(required=True, validate=validate.OneOf(["enterprise", "personal"]),
                                 metadata={"description": "must be enterprise"})


class AgreementOut(Schema):
    id = fields.String()
    org_id = fields.String()
    account = fields.String()
    account_name = fields.String()
    status = fields.String(metadata={"description": "pending | active | revoked"})
    created_at = fields.AwareDateTime()
    confirmed_at = fields.AwareDateTime(allow_none=True)
    revoked_at = fields.AwareDateTime(allow_none=True)


