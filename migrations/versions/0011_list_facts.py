"""list facts: the latest total per instrument and the alerts in patient_flags; patients by site and subject

The site list reads them instead of every response of the patients on the page.
Existing rows keep NULL until their patient's next refresh (epro demo refreshes
them all); readers summarize such a patient from its responses meanwhile.

Revision ID: 0011_list_facts
Revises: 0010_worklists
Create Date: 2026-12-03 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_list_facts'
down_revision = '0010_worklists'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patient_flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('latest', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('alerts', sa.JSON(), nullable=True))
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('ix_patients_site_subject', ['site_id', 'subject_code'], unique=False)


def downgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_site_subject')
    with op.batch_alter_table('patient_flags', schema=None) as batch_op:
        batch_op.drop_column('alerts')
        batch_op.drop_column('latest')
