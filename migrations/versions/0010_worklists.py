"""worklists: phone calls to patients (the call list), claims of staff alert e-mails

Revision ID: 0010_worklists
Revises: 0009_queries
Create Date: 2026-12-02 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_worklists'
down_revision = '0009_queries'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('contact_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('visit_code', sa.String(length=8), nullable=True),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('called_by_id', sa.Integer(), nullable=True),
    sa.Column('called_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['called_by_id'], ['users.id'], name=op.f('fk_contact_calls_called_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_contact_calls_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_calls'))
    )
    with op.batch_alter_table('contact_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_calls_patient_id'), ['patient_id'], unique=False)

    op.create_table('alert_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_alert_claims_patient_id_patients')),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_alert_claims_recipient_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_claims')),
    sa.UniqueConstraint('alert_key', 'recipient_id', name='uq_alert_claims_alert')
    )
    with op.batch_alter_table('alert_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_claims_patient_id'), ['patient_id'], unique=False)


def downgrade():
    with op.batch_alter_table('alert_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_claims_patient_id'))
    op.drop_table('alert_claims')
    with op.batch_alter_table('contact_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_calls_patient_id'))
    op.drop_table('contact_calls')
