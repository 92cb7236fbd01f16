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

keys = sa.table("idempotency_keys", sa.column("scope", sa.String), sa.column("key", sa.String),
                sa.column("created_at", sa.DateTime))


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(keys.c.scope, keys.c.key, keys.c.created_at)
                        .where(keys.c.scope.like("%:%")).order_by(keys.c.created_at.desc(), keys.c.scope)).all()
    taken: set[tuple[str, str]] = set()
    for scope, key, _ in rows:  # newest first; an endpoint's name has no ":", an address may
        who = scope.split(":", 1)[1]
        match = (keys.c.scope == scope) & (keys.c.key == key)
        if (who, key) in taken:
            conn.execute(sa.delete(keys).where(match))
        else:
            taken.add((who, key))
            conn.execute(sa.update(keys).where(match).values(scope=who))


def downgrade() -> None:
    pass  # which endpoint a key was used on is not kept: the keys stay per organisation
