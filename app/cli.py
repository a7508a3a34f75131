"""Command-line tasks: the first admin, the demo organisation, the audit chain check,
backups, photo storage migration, the alert and rule scans, the weekly report."""
from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask

from app.errors import DomainError
from app.extensions import db
from app.models import AuditEntry, User
from app.models.types import utcnow
from app.ops.backup import backup_command, restore_command
from app.services import alerts, report_pdf, reports, rules
from app.storage.migrate import photos_migrate_command


def register_cli(app: Flask) -> None:
    app.cli.add_command(create_admin)
    app.cli.add_command(seed_demo)
    app.cli.add_command(audit_verify)
    app.cli.add_command(scan_alerts_command)
    app.cli.add_command(run_rules_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(photos_migrate_command)
    app.cli.add_command(weekly_report_command)
    app.cli.add_command(kpi_verify)
    app.cli.add_command(kpi_rebuild)


def _read_password() -> str:
    """First line of standard input when piped (further lines ignored); a prompt on a terminal."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.command("create-admin")
@click.argument("email")
@click.option("--name", required=True, help="The admin's display name.")
def create_admin(email: str, name: str) -> None:
    """Create an admin account; the password comes from standard input or a prompt."""
    from marshmallow import ValidationError

    from app.api.users.schemas import UserCreateSchema
    from app.errors import DomainError
    from app.services.users import create_user

    password = _read_password()
    try:
        data = UserCreateSchema().load(
            {"email": email, "name": name, "password": password, "role": "admin"}
        )
        user = create_user(None, data)
        db.session.commit()
    except ValidationError as exc:
        for field, messages in exc.messages.items():
            click.echo(f"{field}: {' '.join(messages)}", err=True)
        raise SystemExit(2) from exc
    except DomainError as exc:
        click.echo(exc.detail, err=True)
        raise SystemExit(2) from exc
    click.echo(f"Admin {user.email} created (id {user.id}).")


@click.command("seed-demo")
def seed_demo() -> None:
    """Fill an empty database with a demo organisation around Shanghai."""
    from app.ops.seed import DEMO_DOMAIN, seed

    if db.session.scalar(sa.select(User.id).where(User.email.like(f"%@{DEMO_DOMAIN}")).limit(1)):
        click.echo("The demo organisation is already in this database; nothing was changed.")
        return
    if db.session.scalar(sa.select(User.id).limit(1)):
        click.echo("This database already has users; seed-demo fills only an empty one. "
                   "Nothing was changed.")
        return
    for line in seed():
        click.echo(line)


@click.command("audit-verify")
def audit_verify() -> None:
    """Check the audit log's hash chain; name the first entry that breaks it."""
    from app.services.audit import verify_chain

    broken = verify_chain()
    count = db.session.scalar(sa.select(sa.func.count(AuditEntry.id)))
    if broken is None:
        click.echo(f"Audit chain intact: {count} entries.")
        return
    click.echo(
        f"Audit chain broken at entry {broken.id} ({broken.action} on "
        f"{broken.target_type} {broken.target_id}, {broken.at.isoformat()}).",
        err=True,
    )
    raise SystemExit(1)


@click.command("scan-alerts")
def scan_alerts_command() -> None:
    """Raise SLA_RISK and FLAG_PATTERN early warnings due now (run it every few minutes)."""
    for attempt in range(3):
        try:
            rules.hold_rules_lock()  # one run at a time, whatever the number of servers
            counts = alerts.scan_alerts(utcnow())
            db.session.commit()  # a command is its own transaction, as a request is
            break
        except sa.exc.OperationalError:
            # SQLite: a request wrote between this scan's reads and its insert; start over.
            db.session.rollback()
            if attempt == 2:
                raise
    click.echo(f"NO_CHECKOUT: {counts['NO_CHECKOUT']} visits flagged; SLA_RISK: "
               f"{counts['SLA_RISK']} raised; FLAG_PATTERN: {counts['FLAG_PATTERN']} raised.")


@click.command("run-rules")
def run_rules_command() -> None:
    """Evaluate the time-based rules and raise their alerts (run it every few minutes,
    on any number of servers)."""
    counts = rules.run_rules(utcnow())
    db.session.commit()  # a command is its own transaction, as a request is
    click.echo("; ".join(f"{kind}: {count}" for kind, count in counts.items()) + ".")


@click.command("weekly-report")
@click.option("--team", "team", metavar="SUPERVISOR",
              help="The team of this supervisor (email or id).")
@click.option("--company", is_flag=True, help="The whole company.")
@click.option("--week", metavar="YYYY-Www", help="An ISO week; default: the last whole week.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help="The PDF to write; default: weekly-report-WEEK-SUBJECT.pdf here.")
@click.option("--lang", type=click.Choice(("zh-CN", "en")), default="zh-CN", show_default=True)
def weekly_report_command(team: str | None, company: bool, week: str | None, out: str | None,
                          lang: str) -> None:
    """Write a team's or the company's weekly report as a PDF (for scheduled sending)."""
    if company == (team is not None):
        raise click.UsageError("Give either --team SUPERVISOR or --company.")
    try:
        supervisor_id = None if company else reports.team_supervisor(team).id
        report = reports.build_report(week, supervisor_id)
    except DomainError as exc:
        click.echo(exc.detail, err=True)
        for field, messages in (exc.errors or {}).items():
            click.echo(f"{field}: {' '.join(messages)}", err=True)
        raise SystemExit(2) from exc
    finally:
        db.session.rollback()  # the report only reads
    path = Path(out or report_pdf.filename(report))
    path.write_bytes(report_pdf.render(report, lang))
    click.echo(f"Weekly report {report['week']} ({report['scope']}) written to {path}.")


@click.command("kpi-verify")
@click.option("--period", "period_text", default=None, metavar="YYYY-MM",
              help="Only this month (default: every month with records).")
def kpi_verify(period_text: str | None) -> None:
    """Recompute every stored KPI figure from the records; name each difference."""
    from flask import current_app

    from app.errors import DomainError
    from app.services.kpi import periods, store

    tz = current_app.config["TIMEZONE"]
    try:
        months = None if period_text is None else [periods.parse(period_text, tz)]
    except DomainError as exc:
        click.echo(f"--period: {exc.detail}", err=True)
        raise SystemExit(2) from exc
    if db.engine.dialect.name == "postgresql":
        # One snapshot for every statement, so that writes committed while it reads (a
        # server in service) are either all counted or none: never a difference of its own.
        db.session.rollback()  # a transaction of its own, begun with that isolation
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    problems = store.verify(tz, months)
    checked = "every month" if months is None else months[0].key
    if not problems:
        click.echo(f"KPI figures exact: the stored figures of {checked} equal the records.")
        return
    for line in problems:
        click.echo(line, err=True)
    click.echo(f"{len(problems)} difference(s) in {checked}.", err=True)
    raise SystemExit(1)


@click.command("kpi-rebuild")
def kpi_rebuild() -> None:
    """Compute every stored KPI figure afresh from the records (after an upgrade from a
    release without the store, or a change of TIMEZONE)."""
    from flask import current_app

    from app.services.kpi import store

    tz = current_app.config["TIMEZONE"]
    rows = store.rebuild(tz)
    db.session.commit()
    click.echo(f"KPI figures rebuilt in {tz}: {rows} engineer-months.")
