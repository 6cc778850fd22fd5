"""display preferences: a person's text size and high-contrast theme

Revision ID: 0012_display_prefs
Revises: 0011_list_facts
Create Date: 2026-12-03 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_display_prefs'
down_revision = '0011_list_facts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_size', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('high_contrast', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('high_contrast')
        batch_op.drop_column('text_size')
