"""An index of each wallet's active holds by expiry: a spend refused for insufficient funds
releases that wallet's expired holds under its lock and decides again, without waiting for
the hold-expiry job (``Ledger.spending``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 12:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_wallet_holds_active_org_expiry", "wallet_holds", ["org_id", "expires_at"],
                    postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'"))


def downgrade() -> None:
    op.drop_index("ix_wallet_holds_active_org_expiry", table_name="wallet_holds")
