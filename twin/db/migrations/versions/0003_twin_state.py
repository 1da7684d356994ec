"""twin_state: small durable state per account and key (a model's health survives a restart)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import twin.db.tables

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('twin_state',
    sa.Column('account', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', twin.db.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('account', 'key')
    )


def downgrade() -> None:
    op.drop_table('twin_state')
