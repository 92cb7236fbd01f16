"""The sandbox gateway's amounts as exact money: integer cents on SQLite (its NUMERIC is a
float, so a large payment lost cents and was refused as an amount mismatch). PostgreSQL
keeps NUMERIC(18, 2): nothing changes there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 07:40:00.000000
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_COLUMNS = (("sandbox_payments", "amount"), ("sandbox_payments", "refunded"), ("sandbox_refunds", "amount"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, column in _COLUMNS:  # the column's affinity stays NUMERIC: it holds integers as integers
        op.execute(f"UPDATE {table} SET {column} = CAST(ROUND({column} * 100) AS INTEGER)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, column in _COLUMNS:
        op.execute(f"UPDATE {table} SET {column} = {column} / 100.0")
