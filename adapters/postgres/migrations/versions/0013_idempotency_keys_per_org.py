"""Idempotency keys are per caller organisation, no longer per endpoint and organisation:
the same key on another endpoint is 409 ``idempotency_key_reused`` (api.md, ADR 0008
addendum). Stored keys move to their organisation's scope (``wallet.charge:org_1`` ->
``org_1``); where one key was used on several endpoints the newest row keeps it, and a row
the new code already wrote (a rolling deploy) wins over an old one.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 17:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# every scope the old code wrote was "<endpoint>:<organisation or address>", the endpoint one of these
ENDPOINTS = ("wallet.recharge", "wallet.revoke", "wallet.notify", "wallet.charge", "wallet.hold", "wallet.capture",
             "wallet.release", "wallet.allocate", "wallet.reclaim", "wallet.coupon", "wallet.withdraw",
             "wallet.deposit_pay", "wallet.deposit_refund")
OLD = "LIKE 'wallet.%:%'"
COLUMNS = "key, request_hash, status, response_status, response_body, created_at, lease, locked_at"


def upgrade() -> None:
    conn = op.get_bind()
    find = "strpos" if conn.dialect.name == "postgresql" else "instr"
    who = f"substr({{t}}.scope, {find}({{t}}.scope, ':') + 1)"  # what follows the endpoint's name
    older, newer = who.format(t="o"), who.format(t="n")
    conn.execute(sa.text(f"""DELETE FROM idempotency_keys AS o WHERE o.scope {OLD} AND (
        EXISTS (SELECT 1 FROM idempotency_keys AS n WHERE n.key = o.key AND n.scope {OLD} AND {newer} = {older}
                AND (n.created_at > o.created_at OR (n.created_at = o.created_at AND n.scope < o.scope)))
        OR EXISTS (SELECT 1 FROM idempotency_keys AS n WHERE n.key = o.key AND n.scope = {older}))"""))
    conn.execute(sa.text(f"UPDATE idempotency_keys SET scope = {who.format(t='idempotency_keys')} "
                         f"WHERE scope {OLD}"))


def downgrade() -> None:
    """Each key under every endpoint's scope: the old code finds it on whichever endpoint a
    retry comes to, and its digest (method and path) replays it only on the right one."""
    conn = op.get_bind()
    for endpoint in ENDPOINTS:
        conn.execute(sa.text(f"INSERT INTO idempotency_keys (scope, {COLUMNS}) SELECT :prefix || scope, {COLUMNS} "
                             f"FROM idempotency_keys WHERE NOT scope {OLD}"), {"prefix": f"{endpoint}:"})
    conn.execute(sa.text(f"DELETE FROM idempotency_keys WHERE NOT scope {OLD}"))
