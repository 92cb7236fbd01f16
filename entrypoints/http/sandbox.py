"""The sandbox payment gateway's pay page: what the payer sees at the ``payment_url``.

``GET /sandbox/pay/<payment_id>`` shows the amount and buttons (a self-contained HTML
page: no external scripts, styles or fonts). ``POST /sandbox/pay/<payment_id>`` with
``{outcome: paid|failed, mode: normal|delay|duplicate|lost|bad_signature,
delay_seconds}`` (JSON, or the page's form) settles the payment and has the gateway
notify our notify endpoint, signed like a real gateway would.

Registered by ``create_app`` only when ``AGORA_PAYMENT=sandbox``: with a real gateway
configured these routes do not exist (404), and they also answer 404 when the container
has no sandbox channel.
"""
from __future__ import annotations

from typing import Any

import injector
from flask import Blueprint, current_app, jsonify, render_template_string, request
from marshmallow import EXCLUDE, Schema, fields, validate

from application.wallet.payments import (
    MAX_NOTIFY_DELAY_SECONDS,
    NOTIFY_MODES,
    PAY_OUTCOMES,
    PaymentGateways,
    SandboxConflict,
    SandboxControls,
    SandboxPayment,
    SandboxPayResult,
)
from domain.shared.money import fmt
from entrypoints.http.api import body
from entrypoints.http.errors import ApiError

bp = Blueprint("sandbox", __name__)


class PaySchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(PAY_OUTCOMES))
    mode = fields.String(load_default="normal", validate=validate.OneOf(NOTIFY_MODES))
    delay_seconds = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_NOTIFY_DELAY_SECONDS))


def _gateway() -> SandboxControls:
    try:
        gateway = current_app.extensions["injector"].get(PaymentGateways).get("sandbox")
    except (LookupError, injector.Error):  # no sandbox channel, or no gateways bound at all
        gateway = None
    if not isinstance(gateway, SandboxControls):
        raise ApiError(404, "not_found", "the sandbox payment gateway is not configured")
    return gateway


def _payment(gateway: SandboxControls, payment_id: str) -> SandboxPayment:
    try:
        return gateway.payment(payment_id)
    except LookupError:
        raise ApiError(404, "not_found", f"no sandbox payment {payment_id}") from None


def _wants_html() -> bool:
    return request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


@bp.get("/sandbox/pay/<payment_id>")
def pay_page(payment_id: str) -> Any:
    payment = _payment(_gateway(), payment_id)
    return render_template_string(PAGE, p=payment, amount=fmt(payment.amount), refunded=fmt(payment.refunded),
                                  modes=NOTIFY_MODES, result=None, max_delay=MAX_NOTIFY_DELAY_SECONDS)


@bp.post("/sandbox/pay/<payment_id>")
def pay(payment_id: str) -> Any:
    gateway = _gateway()
    html = _wants_html()
    if html:
        args = PaySchema(unknown=EXCLUDE).load({k: v for k, v in request.form.items() if v != ""})
    else:
        args = body(PaySchema)
    try:
        result = gateway.pay(payment_id, args["outcome"], args["mode"], args["delay_seconds"])
    except LookupError:
        raise ApiError(404, "not_found", f"no sandbox payment {payment_id}") from None
    except SandboxConflict as exc:
        raise ApiError(409, "payment_already_settled", str(exc)) from None
    except ValueError as exc:
        raise ApiError(422, "validation_failed", str(exc)) from None
    if html:
        p = result.payment
        return render_template_string(PAGE, p=p, amount=fmt(p.amount), refunded=fmt(p.refunded),
                                      modes=NOTIFY_MODES, result=result, max_delay=MAX_NOTIFY_DELAY_SECONDS)
    return jsonify(_dump(result))


def _dump(result: SandboxPayResult) -> dict[str, Any]:
    p = result.payment
    return {"payment_id": p.payment_id, "out_trade_no": p.out_trade_no, "amount": fmt(p.amount),
            "status": p.status, "mode": result.mode, "delivered": result.delivered,
            "scheduled": result.scheduled}


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox payment {{ p.payment_id }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#222}
.amount{font-size:2.2rem;font-weight:600;margin:.5rem 0}
.note{background:#fff4d6;border:1px solid #e8c66a;padding:.5rem .75rem;border-radius:4px}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}dt{color:#666}
button{font-size:1rem;padding:.5rem 1.2rem;margin:.25rem .5rem .25rem 0;cursor:pointer}
.pay{background:#1677ff;color:#fff;border:0;border-radius:4px}.fail{background:#eee;border:1px solid #bbb}
.result{border:1px solid #9c9;background:#efe;padding:.5rem .75rem;border-radius:4px}
</style></head><body>
<h1>Sandbox payment</h1>
<p class="note">This is Agora's embedded test gateway: no money moves.</p>
<div class="amount" id="amount">&#165; {{ amount }}</div>
<dl>
<dt>For</dt><dd>{{ p.subject }}</dd>
<dt>Trade</dt><dd>{{ p.out_trade_no }}</dd>
<dt>Payment id</dt><dd>{{ p.payment_id }}</dd>
<dt>Status</dt><dd id="status">{{ p.status }}</dd>
{% if p.refunded != 0 %}<dt>Refunded</dt><dd>&#165; {{ refunded }}</dd>{% endif %}
</dl>
{% if result %}<p class="result" id="result">{{ result.payment.status }}:
{% if result.scheduled %}notification scheduled ({{ result.mode }})
{% else %}{{ result.delivered }} notification(s) acknowledged ({{ result.mode }}){% endif %}</p>{% endif %}
<form method="post">
<p><label>Notification
<select name="mode">{% for m in modes %}<option value="{{ m }}">{{ m }}</option>{% endfor %}</select></label>
<label>delay (s) <input name="delay_seconds" type="number" min="0" max="{{ max_delay }}" value="0"
 style="width:5rem"></label></p>
<button class="pay" name="outcome" value="paid">Pay &#165; {{ amount }}</button>
<button class="fail" name="outcome" value="failed">Fail the payment</button>
</form>
</body></html>
"""
