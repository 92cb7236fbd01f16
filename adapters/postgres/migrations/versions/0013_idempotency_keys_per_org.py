"""Idempotency keys are per caller organisation, no longer per endpoint and organisation:
the same key on another endpoint is 409 ``idempotency_key_reused`` (api.md). Stored keys
move to their organisation's scope (``wallet.charge:org_1`` -> ``org_1``); where one key
was used on several endpoints, the newest row keeps it.

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


def upgrade() -> None:
    conn = op.get_bind()
    find = "strpos" if conn.dialect.name == "postgresql" else "instr"
    # what follows the first ":" (an endpoint's name has none; an IPv6 address has several)
    who = f"substr({{t}}.scope, {find}({{t}}.scope, ':') + 1)"
    older, newer = who.format(t="o"), who.format(t="n")
    conn.execute(sa.text(f"""DELETE FROM idempotency_keys AS o WHERE o.scope LIKE '%:%' AND EXISTS (
        SELECT 1 FROM idempotency_keys AS n WHERE n.key = o.key AND n.scope LIKE '%:%' AND {newer} = {older}
          AND (n.created_at > o.created_at OR (n.created_at = o.created_at AND n.scope < o.scope)))"""))
    conn.execute(sa.text(f"UPDATE idempotency_keys SET scope = {who.format(t='idempotency_keys')} "
                         "WHERE scope LIKE '%:%'"))


def downgrade() -> None:
    pass  # which endpoint a key was used on is not kept: the keys stay per organisation
