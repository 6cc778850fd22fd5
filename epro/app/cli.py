"""The `epro` command: Flask's CLI over the app factory, plus demo and serve.

Every `flask` command works through it (`epro routes`, `epro db upgrade`).
"""
from __future__ import annotations

import os
import sys

import click
from flask.cli import FlaskGroup
from sqlalchemy.exc import OperationalError, ProgrammingError

from epro import create_app
from epro.app.factory import ensure_instance_secret, instance_path


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def cli() -> None:
    """epro: ePRO for stroke stem-cell trials."""


def _serve(host: str, port: int, workers: int) -> None:
    """Run gunicorn in this process's place, with the same environment."""
    args = [
        sys.executable, "-m", "gunicorn", "--config", "python:epro.app.gunicorn_conf",
        "--workers", str(workers), "--bind", f"{host}:{port}", "epro.app.wsgi:app",
    ]
    click.echo(f"epro is serving on http://{host}:{port}  (Ctrl+C to stop)")
    os.execv(sys.executable, args)


@cli.command("demo", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Load the demo data and exit.")
@click.option("--patients", "extra", default=0, type=click.IntRange(0, 100000),
              help="Also generate N patients spread over the demo sites.")
@click.option("--workers", default=2, show_default=True, type=int)
def demo_command(host: str, port: int, no_serve: bool, extra: int, workers: int) -> None:
    """Upgrade the database, load the demo data (idempotent), then serve."""
    from flask_migrate import upgrade

    from epro.app import demo

    ensure_instance_secret(instance_path())
    from epro.services.reminders.channels import ensure_vapid_key

    ensure_vapid_key(instance_path())  # web push for the demo's reminders (EPRO_VAPID_PRIVATE_KEY in production)
    # The demo accounts sign in with a password only (production: EPRO_REQUIRE_SECOND_FACTOR, on by default).
    os.environ.setdefault("EPRO_REQUIRE_SECOND_FACTOR", "false")
    app = create_app()
    with app.app_context():
        upgrade()
        summary = demo.load()
        if extra:
            summary += demo.generate(extra)
        click.echo(summary)
    if not no_serve:
        _serve(host, port, workers)


@cli.command("serve", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve_command(host: str, port: int, workers: int) -> None:
    """The production server (gunicorn)."""
    app = create_app()  # fail fast here, with a clear message, on a missing secret key
    warn_without_admin(app)
    _serve(host, port, workers)


@cli.command("create-admin")
@click.argument("username")
def create_admin_command(username: str) -> None:
    """Create an administrator on the configured database (the first one, or another).

    The password is typed twice at the terminal, or read from EPRO_ADMIN_PASSWORD when
    there is no terminal (a deployment script); a weak one is refused.
    """
    from epro.services import accounts
    from epro.services.unit_of_work import unit_of_work

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    else:
        password = os.environ.get("EPRO_ADMIN_PASSWORD", "")
        if not password:
            raise click.ClickException("no terminal to type the password: set EPRO_ADMIN_PASSWORD")
    try:
        with unit_of_work():
            user = accounts.create_admin(username, password)
    except accounts.AccountRefused as exc:
        raise click.ClickException(str(exc)) from None
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(
            f"the database is not ready ({exc.orig}); run `epro db upgrade` first") from None
    click.echo(f"Administrator {user.username} created. Sign in at /login and create sites, studies and staff.")


@cli.command("export")
@click.option("--study", "study_code", required=True, help="The study's code, e.g. IT-HMSC.")
@click.option("--format", "fmt", required=True, type=click.Choice(["csv", "sdtm", "odm", "fhir"]),
              help="csv, sdtm, odm or fhir.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="The directory to write into (created if needed).")
@click.option("--unblinded", is_flag=True, help="Include arms, doses, volumes and lots (default: masked).")
def export_command(study_code: str, fmt: str, out_dir: str, unblinded: bool) -> None:
    """Write one study's data in one format, masked unless --unblinded; audited like every export."""
    from pathlib import Path

    from epro.services import exports
    from epro.services.unit_of_work import unit_of_work

    try:
        with unit_of_work():
            result = exports.run(study_code, fmt, Path(out_dir), actor=None, unblinded=unblinded)
    except exports.ExportRefused as exc:
        raise click.ClickException(exc.message % exc.params if exc.params else exc.message) from None
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(
            f"the database is not ready ({exc.orig}); run `epro db upgrade` first") from None
    click.echo(f"{'Unblinded' if unblinded else 'Masked'} {fmt} export of {study_code} written to {out_dir}:")
    for path in result.files:
        click.echo(f"  {path.name}: {result.counts.get(path.name, 0)} rows")


@cli.command("remind")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; claim and send nothing.")
@click.option("--now", "now_text", default=None, metavar="ISO",
              help="Act as if it were this moment (RFC 3339, for tests and catching up); default: now.")
def remind_command(dry_run: bool, now_text: str | None) -> None:
    """Send the reminders that are due now (run it from cron or a systemd timer, not in web workers).

    Each reminder is claimed and committed before it is sent, so two runs, two servers or a crash
    between claim and send never send one twice.  Then the staff alert step: each member of a site
    team is e-mailed once per clinician alert (an SAE clock near its deadline, worse scores, a reported
    problem not reviewed after a day), claimed the same way.
    """
    from datetime import UTC, datetime

    from epro.services import reminders
    from epro.services.reminders.channels import BadSetting
    from epro.services.unit_of_work import unit_of_work

    try:
        now = datetime.fromisoformat(now_text) if now_text else datetime.now(UTC)
    except ValueError:
        raise click.BadParameter("an RFC 3339 moment, e.g. 2026-12-02T09:00:00+08:00", param_hint="--now") from None
    if now.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2026-12-02T09:00:00+08:00", param_hint="--now")
    try:
        configured = reminders.configured_channels()
    except BadSetting as exc:
        raise click.ClickException(str(exc)) from None
    notes: list[str] = []
    try:
        if dry_run:
            with unit_of_work():
                planned = reminders.plan(now, configured, notes)
                stuck = reminders.stuck_claims()
            for note in notes:
                click.echo(note)
            for item in planned:
                click.echo(f"would send: {item.describe()}")
            for claim in stuck:
                click.echo(f"claimed but never sent (not retried): claim {claim.id}, {claim.visit_code} {claim.kind} "
                           f"for user {claim.recipient_id} on {claim.local_day}")
            _staff_alerts(now, configured, dry_run=True)  # the reminders' summary stays the last line
            click.echo(f"{len(planned)} reminder(s) due; nothing sent (--dry-run).")
            return
        with unit_of_work():
            claimed = reminders.plan_and_claim(now, configured, notes)
        for note in notes:
            click.echo(note)
        for item in claimed:
            reminders.deliver(item, configured)  # outside any transaction
            with unit_of_work():
                reminders.record(item)
            click.echo(f"sent: {item.describe()}: {item.outcome}")
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(
            f"the database is not ready ({exc.orig}); run `epro db upgrade` first") from None
    _staff_alerts(now, configured, dry_run=False)
    click.echo(f"{len(claimed)} reminder(s) sent.")  # the last line, as before the alert step


def _staff_alerts(now, configured, *, dry_run: bool) -> None:
    """The alert step of `epro remind`: e-mail each site team member once per alert (claimed first)."""
    from flask import current_app

    from epro.services.unit_of_work import unit_of_work
    from epro.services.worklists import alerts

    if not _flag(current_app.config.get("STAFF_ALERTS", True)):
        return  # turned off (EPRO_STAFF_ALERTS=false): the output is the reminders' alone
    if configured.mail is None:
        click.echo("staff alerts: no mail server configured (EPRO_MAIL_SERVER); none sent.")
        return
    try:
        if dry_run:
            with unit_of_work():
                planned = alerts.plan(now)
                for item in planned:
                    click.echo(f"would send: {item.describe()}")
            click.echo(f"{len(planned)} staff alert e-mail(s) due; nothing sent (--dry-run).")
            return
        with unit_of_work():
            claimed = alerts.plan_and_claim(now)
        for group in alerts.deliver_grouped(claimed, configured):  # outside any transaction
            with unit_of_work():
                for item in group:
                    alerts.record(item)
            click.echo(f"sent: {', '.join(item.describe() for item in group)}: {group[0].outcome}")
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(
            f"the database is not ready ({exc.orig}); run `epro db upgrade` first") from None
    click.echo(f"{len(claimed)} staff alert e-mail(s) sent.")


def warn_without_admin(app) -> None:
    """A production start on a database with no administrator says how to create one."""
    from epro.services import accounts

    with app.app_context():
        try:
            ready = accounts.has_admin()
        except (OperationalError, ProgrammingError):
            click.echo("epro: the database has no tables yet; run `epro db upgrade`.", err=True)
            return
    if not ready:
        click.echo("epro: no administrator yet. Create one with `epro create-admin USERNAME`.", err=True)


def main() -> None:
    cli(prog_name="epro")


@cli.group("translate")
def translate() -> None:
    """Translation catalogs: extract, update, compile, check (see README)."""


def _pybabel(*args: str) -> None:
    import subprocess

    from epro.app.factory import PROJECT_ROOT

    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], cwd=PROJECT_ROOT, check=True)


@translate.command("extract", with_appcontext=False)
def translate_extract() -> None:
    """Write translations/messages.pot from the code and templates."""
    _extract()


def _extract() -> None:
    _pybabel("extract", "-F", "babel.cfg", "-k", "N_", "-k", "_l", "-k", "lazy_gettext",
             "--no-location", "--omit-header", "--sort-output", "-o", "translations/messages.pot", ".")


@translate.command("update", with_appcontext=False)
def translate_update() -> None:
    """Extract, then merge new messages into every catalog (new ones start empty)."""
    _extract()
    _pybabel("update", "-i", "translations/messages.pot", "-d", "translations", "--no-fuzzy-matching",
             "--ignore-obsolete")


@translate.command("compile", with_appcontext=False)
def translate_compile() -> None:
    """Compile .po to .mo (the app also does this by itself when a .po is newer)."""
    from epro.base.i18n import compile_catalogs

    compile_catalogs()


@cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
def backup_command(path: str) -> None:
    """Copy the database to PATH; safe while the server runs (SQLite: backup API; PostgreSQL: pg_dump -Fc)."""
    from flask import current_app

    from epro.app import backup

    try:
        click.echo(backup.backup(current_app.config["SQLALCHEMY_DATABASE_URI"], path))
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Replace the database without asking.")
def restore_command(path: str, yes: bool) -> None:
    """Replace everything in the database with the backup at PATH (stop the server first)."""
    from flask import current_app

    from epro.app import backup

    uri = current_app.config["SQLALCHEMY_DATABASE_URI"]
    if not yes:
        click.confirm(f"Replace everything in {backup.describe(uri)} with {path}?", abort=True)
    try:
        click.echo(backup.restore(uri, path))
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None


def _flag(value: object) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")
