"""reminders: channels per person, push subscriptions, reminder claims; e-mail and phone on users

Revision ID: 0008_reminders
Revises: 0007_exports
Create Date: 2026-12-02 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_reminders'
down_revision = '0007_exports'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))

    op.create_table('reminder_preferences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('push', sa.Boolean(), nullable=False),
    sa.Column('email', sa.Boolean(), nullable=False),
    sa.Column('sms', sa.Boolean(), nullable=False),
    sa.Column('stopped', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_reminder_preferences_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_preferences')),
    sa.UniqueConstraint('user_id', name=op.f('uq_reminder_preferences_user_id'))
    )
    op.create_table('push_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('endpoint', sa.String(length=1000), nullable=False),
    sa.Column('p256dh', sa.String(length=200), nullable=False),
    sa.Column('auth', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_push_subscriptions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_push_subscriptions')),
    sa.UniqueConstraint('endpoint', name=op.f('uq_push_subscriptions_endpoint'))
    )
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_subscriptions_user_id'), ['user_id'], unique=False)

    op.create_table('reminder_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('visit_code', sa.String(length=16), nullable=False),
    sa.Column('instrument_set', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_reminder_claims_patient_id_patients')),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_reminder_claims_recipient_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_claims')),
    sa.UniqueConstraint('patient_id', 'visit_code', 'instrument_set', 'kind', 'recipient_id',
                        name='uq_reminder_claims_reminder'),
    sa.UniqueConstraint('recipient_id', 'local_day', name='uq_reminder_claims_one_a_day')
    )
    with op.batch_alter_table('reminder_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_claims_patient_id'), ['patient_id'], unique=False)


def downgrade():
    with op.batch_alter_table('reminder_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_claims_patient_id'))
    op.drop_table('reminder_claims')
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_subscriptions_user_id'))
    op.drop_table('push_subscriptions')
    op.drop_table('reminder_preferences')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('phone')
        batch_op.drop_column('email')
