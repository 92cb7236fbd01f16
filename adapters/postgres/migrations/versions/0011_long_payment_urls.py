"""A recharge's payment URL as TEXT: Alipay's signed page-pay URL carries the whole order
and its RSA2 signature in the query string (about 860 characters), which VARCHAR(500)
refused on PostgreSQL. SQLite does not enforce a VARCHAR's length: nothing changes there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("wallet_recharges", "payment_url", type_=sa.Text(), existing_type=sa.String(500),
                    existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("wallet_recharges", "payment_url", type_=sa.String(500), existing_type=sa.Text(),
                    existing_nullable=True, postgresql_using="left(payment_url, 500)")
