"""The working day's API: check-in notes, site contacts, home sites, alert params and
actions, case photos

- visits.check_in_note: the engineer's reason given with a check-in;
- sites.contact_name, sites.contact_phone: whom to call at the site;
- users.home_site_id: where an engineer starts from when no position is known (dispatch);
- alerts.params (the figures an alert's reason is worded from), alerts.visit_id,
  alerts.dismiss_note, alerts.action_item_id (the review action item it became);
  existing alerts get their params from the sentence they were worded in and the rows
  they name;
- photos: an index on (uploaded_by_id, created_at), for an engineer's latest photo fix;
- case_photos: photos on knowledge cases.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 15:30:00

"""
import json
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

SLA = re.compile(r"its (\d+)-minute limit passed at (\S+?)\.$")
FLAG = re.compile(r"^(\d+) visits flagged or rejected in the (\d+) days to (\d{4}-\d{2}-\d{2}): (.*)\.$")
KEYWORD_SOURCES = {"feedback": "feedback", "job-description": "job_description",
                   "job-resolution": "job_resolution"}
EXCERPT = re.compile(r": “(.*)”$", re.S)


def _params(row, feedback, jobs):
    """An existing alert's params, from the sentence it was worded in and the rows it names."""
    detail = row.detail or ""
    quoted = EXCERPT.search(detail)
    if row.kind == "NEGATIVE_FEEDBACK":
        score = feedback.get(row.feedback_id)
        return {"job_id": row.job_id, "feedback_id": row.feedback_id, "score": score,
                "comment": quoted.group(1) if quoted else None}, None
    if row.kind == "KEYWORD":
        subject = (row.dedupe_key or "").split(":")[1] if ":" in (row.dedupe_key or "") else "feedback"
        params = {"source": KEYWORD_SOURCES.get(subject, "feedback"), "job_id": row.job_id}
        if row.feedback_id is not None:
            params["feedback_id"] = row.feedback_id
        matched = row.matched if isinstance(row.matched, list) else json.loads(row.matched or "[]")
        return {**params, "terms": matched, "excerpt": quoted.group(1) if quoted else ""}, None
    if row.kind == "SLA_RISK":
        found = SLA.search(detail)
        due = found.group(2).replace("+00:00", "Z") if found else None
        if due and due.endswith("Z") and due.count(":") == 1:
            due = due[:-1] + ":00Z"
        return {"job_id": row.job_id, "priority": jobs.get(row.job_id),
                "limit_minutes": int(found.group(1)) if found else None, "due_at": due}, None
    found = FLAG.search(detail)
    if not found:
        return {"count": None, "days": None, "until": None, "visit_ids": []}, None
    ids = [int(i) for i in re.findall(r"#(\d+)", found.group(4))]
    return ({"count": int(found.group(1)), "days": int(found.group(2)), "until": found.group(3),
             "visit_ids": ids}, ids[-1] if ids else None)


def _defer_foreign_keys():
    """SQLite copies a table to change its constraints and drops the old one: with foreign
    keys enforced at once, the drop fails while other tables' rows refer to it (users).
    Deferred, they are checked at the commit, when the copy has taken the old name."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('PRAGMA defer_foreign_keys=ON')


def upgrade():
    op.create_table('case_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('original_key', sa.String(length=200), nullable=False),
    sa.Column('display_key', sa.String(length=200), nullable=False),
    sa.Column('thumb_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['knowledge_items.id'], name=op.f('fk_case_photos_case_id_knowledge_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_case_photos_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_photos'))
    )
    with op.batch_alter_table('case_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_photos_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_in_note', sa.Text(), nullable=True))
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.create_index('ix_photos_uploader_created', ['uploaded_by_id', 'created_at'], unique=False)
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('contact_phone', sa.String(length=32), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':
        # In place: a batch copy of users would drop the table every other refers to,
        # which SQLite refuses while their rows do (foreign keys are enforced).
        op.execute('ALTER TABLE users ADD COLUMN home_site_id INTEGER REFERENCES sites (id)')
    else:
        op.add_column('users', sa.Column('home_site_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_users_home_site_id_sites'), 'users', 'sites',
                              ['home_site_id'], ['id'])

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('visit_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('params', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('dismiss_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('action_item_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_alerts_visit_id'), ['visit_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_alerts_visit_id_visits'), 'visits', ['visit_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_alerts_action_item_id_review_action_items'), 'review_action_items', ['action_item_id'], ['id'], ondelete='SET NULL')

    conn = op.get_bind()
    alerts = sa.table('alerts', sa.column('id', sa.Integer), sa.column('kind', sa.String),
                      sa.column('job_id', sa.Integer), sa.column('feedback_id', sa.Integer),
                      sa.column('matched', sa.JSON), sa.column('detail', sa.Text),
                      sa.column('dedupe_key', sa.String), sa.column('params', sa.JSON),
                      sa.column('visit_id', sa.Integer))
    feedback = dict(conn.execute(sa.text(
        "SELECT id, score FROM feedback WHERE id IN "
        "(SELECT feedback_id FROM alerts WHERE kind = 'NEGATIVE_FEEDBACK')"
    )).all())
    jobs = dict(conn.execute(sa.text(
        "SELECT id, priority FROM jobs WHERE id IN (SELECT job_id FROM alerts WHERE kind = 'SLA_RISK')"
    )).all())
    rows = conn.execute(sa.select(alerts.c.id, alerts.c.kind, alerts.c.job_id, alerts.c.feedback_id,
                                  alerts.c.matched, alerts.c.detail, alerts.c.dedupe_key)).all()
    for row in rows:
        params, visit_id = _params(row, feedback, jobs)
        conn.execute(alerts.update().where(alerts.c.id == row.id)
                     .values(params=params, visit_id=visit_id))
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.alter_column('params', existing_type=sa.JSON(), nullable=False)


def downgrade():
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_alerts_action_item_id_review_action_items'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_alerts_visit_id_visits'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_alerts_visit_id'))
        batch_op.drop_column('action_item_id')
        batch_op.drop_column('dismiss_note')
        batch_op.drop_column('params')
        batch_op.drop_column('visit_id')
    if op.get_bind().dialect.name == 'sqlite':
        # A column that refers to another table cannot be dropped in place: copied.
        _defer_foreign_keys()
        with op.batch_alter_table('users', schema=None) as batch_op:
            batch_op.drop_column('home_site_id')
    else:
        op.drop_constraint(op.f('fk_users_home_site_id_sites'), 'users', type_='foreignkey')
        op.drop_column('users', 'home_site_id')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('contact_phone')
        batch_op.drop_column('contact_name')
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_index('ix_photos_uploader_created')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_column('check_in_note')
    with op.batch_alter_table('case_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_photos_case_id'))
    op.drop_table('case_photos')
