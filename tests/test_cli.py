"""Command-line tasks: create-admin, seed-demo, audit-verify."""
from __future__ import annotations

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models import AuditEntry, Category, Site, User
from app.seed import DEMO_PASSWORD, ENGINEERS, SITES, SUPERVISORS
from app.services import audit


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_create_admin_reads_the_first_line_of_stdin(runner):
    result = runner.invoke(args=["create-admin", "Boss@Example.com", "--name", "The Boss"],
                           input="a long password\nsecond line ignored\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User))
    assert (user.email, user.name, user.role) == ("boss@example.com", "The Boss", "admin")
    assert check_password_hash(user.password_hash, "a long password")
    assert "boss@example.com" in result.output


def test_create_admin_refuses_a_short_password_and_a_taken_email(runner):
    short = runner.invoke(args=["create-admin", "a@example.com", "--name", "A"], input="short\n")
    assert short.exit_code == 2 and "password" in short.output and count(User) == 0
    assert runner.invoke(args=["create-admin", "a@example.com", "--name", "A"],
                         input="long enough pw\n").exit_code == 0
    again = runner.invoke(args=["create-admin", "A@example.com", "--name", "B"], input="long enough pw\n")
    assert again.exit_code == 2 and "exists" in again.output and count(User) == 1


def test_create_admin_needs_a_name_and_a_valid_email(runner):
    assert runner.invoke(args=["create-admin", "a@example.com"], input="long enough pw\n").exit_code == 2
    bad = runner.invoke(args=["create-admin", "not-an-email", "--name", "A"], input="long enough pw\n")
    assert bad.exit_code == 2 and "email" in bad.output and count(User) == 0


def test_seed_demo_fills_an_empty_database_once(client, runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert DEMO_PASSWORD in first.output
    users, sites = count(User), count(Site)
    assert users == 1 + len(SUPERVISORS) + len(ENGINEERS) and sites == len(SITES)
    engineers = db.session.scalars(sa.select(User).where(User.role == "engineer")).all()
    assert all(e.supervisor_id and e.level and e.work_type for e in engineers)
    # The states the engineer's day shows: a category closed against a signature, and the
    # bilingual breaker case that 跳闸 finds.
    assert db.session.get(Category, "appliance").signature_required is True
    engineer = engineers[0]
    found = client.login(engineer.email, DEMO_PASSWORD) and client.get("cases", query_string={"q": "跳闸"})
    assert [c["title"] for c in found.get_json()["items"]] == ["Breaker trips under load / 断路器跳闸"]
    client.post("auth/logout")

    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "already" in second.output
    assert (count(User), count(Site)) == (users, sites)
    # The printed credentials work.
    admin = db.session.scalar(sa.select(User).where(User.role == "admin"))
    assert client.login(admin.email, DEMO_PASSWORD).status_code == 200


def test_seed_demo_leaves_a_database_with_real_users_alone(runner, factory):
    factory.user("admin")
    db.session.commit()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0 and "Nothing was changed" in result.output
    assert count(User) == 1 and count(Site) == 0


def test_audit_verify_names_the_first_broken_entry(runner, org):
    for n in range(4):
        audit.record(org["admin"].id, "test.action", "user", org["eng_a1"].id, {"n": n})
    db.session.commit()
    intact = runner.invoke(args=["audit-verify"])
    assert intact.exit_code == 0 and "intact: 4 entries" in intact.output

    entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
    # A direct edit of the database, as someone with SQL access might try.
    db.session.execute(
        sa.update(AuditEntry).where(AuditEntry.id == entries[2].id).values(detail={"n": 99})
    )
    db.session.commit()
    broken = runner.invoke(args=["audit-verify"])
    assert broken.exit_code == 1
    assert f"broken at entry {entries[2].id}" in broken.output


def test_audit_chain_links_each_entry_to_the_previous(org):
    first = audit.record(None, "a", "user", 1, {})
    second = audit.record(org["admin"].id, "b", "user", 2, {"x": "中文"})
    db.session.commit()
    assert first.prev_hash == audit.GENESIS and second.prev_hash == first.hash
    assert audit.verify_chain() is None
    # Deleting an entry breaks the chain at the one that followed it.
    third = audit.record(None, "c", "user", 3, {})
    db.session.commit()
    db.session.execute(sa.delete(AuditEntry).where(AuditEntry.id == second.id))
    db.session.commit()
    assert audit.verify_chain().id == third.id
