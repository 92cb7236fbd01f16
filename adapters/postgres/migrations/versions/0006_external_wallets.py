"""external wallets: wallets are named by a wallet key, no longer only by an organisation

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 08:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "<org_id>~external" names an organisation's external wallet: the key is not an
    # organisation id, so the foreign key goes (domain/wallet/purpose.py)
    with op.batch_alter_table('wallets') as batch:
        batch.drop_constraint('fk_wallets_org_id_organizations', type_='foreignkey')


def downgrade() -> None:
    # external wallets have postings, statement lines, holds and recharges under their key:
    # dropping only their rows would lose money from the figures, so refuse instead
    found = op.get_bind().execute(sa.text("SELECT count(*) FROM wallets WHERE org_id LIKE '%~external'")).scalar()
    if found:
        raise RuntimeError(f"{found} external wallets exist: downgrading below 0006 would orphan their ledger")
    with op.batch_alter_table('wallets') as batch:
        batch.create_foreign_key('fk_wallets_org_id_organizations', 'organizations', ['org_id'], ['id'])
