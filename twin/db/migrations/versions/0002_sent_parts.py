"""sent_parts: every part of a reply, planned before the first send, its message id stored on delivery

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import twin.db.tables

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sent_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=40), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=False),
    sa.Column('turn_id', sa.BigInteger(), nullable=False),
    sa.Column('part', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('random_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('planned_at', twin.db.tables.UTCDateTime(), nullable=False),
    sa.Column('attempted_at', twin.db.tables.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account', 'turn_id', 'part', name='uq_sent_parts_part')
    )
    with op.batch_alter_table('sent_parts', schema=None) as batch_op:
        batch_op.create_index('ix_sent_parts_message', ['account', 'chat_id', 'message_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sent_parts', schema=None) as batch_op:
        batch_op.drop_index('ix_sent_parts_message')
    op.drop_table('sent_parts')
