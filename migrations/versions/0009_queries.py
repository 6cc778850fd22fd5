"""queries: data queries, their threads and source-data verification

Revision ID: 0009_queries
Revises: 0008_reminders
Create Date: 2026-12-02 15:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_queries'
down_revision = '0008_reminders'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('data_queries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.String(length=36), nullable=False),
    sa.Column('visit_code', sa.String(length=8), nullable=False),
    sa.Column('instrument', sa.String(length=16), nullable=False),
    sa.Column('item', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('raised_by_id', sa.Integer(), nullable=False),
    sa.Column('raised_at', sa.DateTime(), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('correction_id', sa.String(length=36), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_data_queries_patient_id_patients')),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_data_queries_response_id_responses')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['users.id'], name=op.f('fk_data_queries_raised_by_id_users')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_data_queries_closed_by_id_users')),
    sa.ForeignKeyConstraint(['correction_id'], ['responses.id'],
                            name=op.f('fk_data_queries_correction_id_responses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data_queries'))
    )
    with op.batch_alter_table('data_queries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_data_queries_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_queries_response_id'), ['response_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_queries_status'), ['status'], unique=False)

    op.create_table('query_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('query_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('correction_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['query_id'], ['data_queries.id'], name=op.f('fk_query_messages_query_id_data_queries')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_query_messages_author_id_users')),
    sa.ForeignKeyConstraint(['correction_id'], ['responses.id'],
                            name=op.f('fk_query_messages_correction_id_responses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_query_messages'))
    )
    with op.batch_alter_table('query_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_query_messages_query_id'), ['query_id'], unique=False)

    op.create_table('source_verifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.String(length=36), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('verified_by_id', sa.Integer(), nullable=False),
    sa.Column('verified_at', sa.DateTime(), nullable=False),
    sa.Column('cleared_at', sa.DateTime(), nullable=True),
    sa.Column('cleared_reason', sa.String(length=16), nullable=True),
    sa.Column('replaced_by_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'],
                            name=op.f('fk_source_verifications_response_id_responses')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_source_verifications_patient_id_patients')),
    sa.ForeignKeyConstraint(['verified_by_id'], ['users.id'],
                            name=op.f('fk_source_verifications_verified_by_id_users')),
    sa.ForeignKeyConstraint(['replaced_by_id'], ['responses.id'],
                            name=op.f('fk_source_verifications_replaced_by_id_responses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_verifications'))
    )
    with op.batch_alter_table('source_verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_verifications_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_source_verifications_response_id'), ['response_id'], unique=False)


def downgrade():
    with op.batch_alter_table('source_verifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_verifications_response_id'))
        batch_op.drop_index(batch_op.f('ix_source_verifications_patient_id'))
    op.drop_table('source_verifications')

    with op.batch_alter_table('query_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_query_messages_query_id'))
    op.drop_table('query_messages')

    with op.batch_alter_table('data_queries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_queries_status'))
        batch_op.drop_index(batch_op.f('ix_data_queries_response_id'))
        batch_op.drop_index(batch_op.f('ix_data_queries_patient_id'))
    op.drop_table('data_queries')
