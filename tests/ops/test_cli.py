"""Command-line tasks: create-admin, seed-demo, audit-verify."""
from __future__ import annotations

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models import AuditEntry, Category, IntakeDelivery, IntakeSource, Job, Site, User
from app.ops.seed import DEMO_DOMAIN, DEMO_PASSWORD, ENGINEERS, SITES, SUPERVISORS, demo_phone
from app.services import audit, intake


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
    # A configured ServiceNow-shaped source, and one ticket it delivered as a job.
    source = db.session.scalar(sa.select(IntakeSource))
    assert source.key == "servicenow" and source.active
    [delivery] = db.session.scalars(sa.select(IntakeDelivery)).all()
    job = db.session.get(Job, delivery.job_id)
    assert (delivery.outcome, job.source, job.external_id) == ("created", "servicenow", "INC0010042")
    secret = first.output.split("(shown this once): ")[1].split()[0]
    assert intake.accepted_secrets(source) == [secret]
    # The bilingual breaker case that 跳闸 finds.
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
    assert_the_working_day(client)


def login(client, login_name: str) -> None:
    client.token = None
    assert client.login(f"{login_name}@{DEMO_DOMAIN}", DEMO_PASSWORD).status_code == 200


def assert_the_working_day(client) -> None:
    """What the demo shows of the working day (workday.md), through the API."""
    sites = db.session.scalars(sa.select(Site)).all()
    assert all(site.contact_name and site.contact_phone for site in sites)
    engineers = db.session.scalars(sa.select(User).where(User.role == "engineer")).all()
    assert all(engineer.home_site_id for engineer in engineers)
    # Every demo account has a phone of its own, in E.164: the supervisor taps to call.
    phones = db.session.execute(sa.select(User.email, User.phone).order_by(User.id)).all()
    assert [phone for _, phone in phones] == [demo_phone(n) for n in range(1, len(phones) + 1)]
    assert phones[0] == (f"admin@{DEMO_DOMAIN}", "+8613900000001")
    assert dict(phones)[f"li.qiang@{DEMO_DOMAIN}"] == "+8613900000004"

    # Six months of trend, the five before this one closed.
    login(client, "zhang.wei")
    me = db.session.scalar(sa.select(User).where(User.email == f"zhang.wei@{DEMO_DOMAIN}"))
    trend = client.get(f"kpi/engineers/{me.id}/history").get_json()["items"]
    assert [i["frozen"] for i in trend] == [True] * 5 + [False]
    assert all(i["total_score"] is not None for i in trend)

    # A rejected visit waiting for the engineer's dispute.
    [rejected] = client.get("visits?status=rejected").get_json()["items"]
    assert rejected["decision_note"] and rejected["disputed_at"] is None

    # A job whose category needs the customer's signature: only the signature is missing.
    assert db.session.get(Category, "fire_safety").signature_required is True
    [job] = [j for j in client.get("jobs?status=in_progress").get_json()["items"]
             if j["category"] == "fire_safety"]
    checklist = dict.fromkeys(db.session.get(Category, "fire_safety").checklist, True)
    refused = client.post(f"jobs/{job['id']}/close", json={"resolution": "Tested", "fixed": True,
                                                           "checklist": checklist})
    assert refused.status_code == 409 and refused.get_json()["missing"] == ["SIGNATURE"]

    # The supervisor's day: jobs to dispatch with suggestions, a queue of mixed flags,
    # alerts of every kind with their params.
    login(client, "wang.lei")
    new = client.get("jobs?status=new").get_json()["items"]
    assert len(new) >= 6
    suggested = client.get(f"jobs/{new[0]['id']}/assignment-suggestions").get_json()["items"]
    assert len(suggested) == 5 and all(s["distance_m"] is not None for s in suggested)
    queue = client.get("visits?status=flagged,disputed&per_page=200").get_json()["items"]
    assert len({flag for v in queue for flag in v["flags"]}) >= 5
    assert any(v["check_in_note"] for v in queue)
    login(client, "admin")
    alerts = client.get("alerts?per_page=200").get_json()["items"]
    alerts += client.get("alerts?dismissed=true&per_page=200").get_json()["items"]
    assert {a["kind"] for a in alerts} == {"NEGATIVE_FEEDBACK", "KEYWORD", "SLA_RISK", "FLAG_PATTERN"}
    assert all(a["params"] for a in alerts)


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
