"""The `procopt` command: serve, migrate, create-user, demo, backup, restore, publish-feedback-kpis."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlmodel import Session

from app import domains  # noqa: F401 - every table and gate criterion is known before the first query
from app.core.config import ConfigError, get_settings
from app.core.errors import AppError


def _settings_or_exit():  # noqa: ANN202
    try:
        return get_settings()
    except (ConfigError, ValueError) as exc:  # pydantic wraps the validator's error in a ValueError
        sys.exit(f"procopt: configuration error: {exc}")


def cmd_migrate(_: argparse.Namespace) -> None:
    # imported by the command that runs: `procopt --help` and the other commands start without it
    from app.core.migrate import upgrade

    _settings_or_exit()
    upgrade()
    print("procopt: database migrated to the newest revision")


def cmd_demo(args: argparse.Namespace) -> None:
    # imported by the command that runs: `procopt --help` and the other commands start without it
    from app import demo
    from app.core.db import get_engine

    settings = _settings_or_exit()
    if settings.is_production:
        sys.exit("procopt: demo data is never loaded in production (PROCOPT_ENV=production)")
    with Session(get_engine()) as session:
        if demo.is_empty(session):
            demo.load(session)
            session.commit()
            print("procopt: demo data loaded")
        else:
            print("procopt: the database already has data; demo data not loaded")
    if not args.quiet:
        print(f"\nDemo accounts (log in at http://{settings.host}:{settings.port}/login):")
        for email, role, password in demo.credentials():
            print(f"  {role:<7} {email:<26} password: {password}")


def cmd_create_user(args: argparse.Namespace) -> None:
    # imported by the command that runs: `procopt --help` and the other commands start without it
    from app.core.db import get_engine
    from app.users.schemas import UserCreate
    from app.users.service import create_user

    _settings_or_exit()
    try:
        data = UserCreate(email=args.email, password=args.password, role=args.role,
                          display_name=args.name or args.email.split("@")[0], department=args.department)
    except ValueError as exc:
        sys.exit(f"procopt: {exc}")
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            user = create_user(session, data, actor=None)
            session.commit()
        except AppError as exc:
            sys.exit(f"procopt: {exc.detail}")
    print(f"procopt: created {user.role.value} {user.email} (id {user.id})")


def cmd_serve(args: argparse.Namespace) -> None:
    # imported by the command that runs: `procopt --help` and the other commands start without it
    from app.serve import STARTUP_FAILURE, PortInUse, serve

    settings = _settings_or_exit()
    try:
        serve(host=args.host or settings.host, port=args.port or settings.port,
              workers=args.workers or settings.workers, log_level=settings.log_level,
              access_log=settings.access_log)
    except PortInUse as exc:  # exit code 3 as uvicorn's own failed bind (STARTUP_FAILURE)
        print(f"procopt: {exc}", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)


def cmd_backup(args: argparse.Namespace) -> None:
    # imported by the command that runs: `procopt --help` and the other commands start without it
    from app.core.backup import BackupError, backup

    settings = _settings_or_exit()
    try:
        done = backup(settings.database_url, args.file)
    except BackupError as exc:
        sys.exit(f"procopt: cannot back up: {exc}")
    print(f"procopt: backed up {done.database} to {done.file} ({done.size} bytes, migration {', '.join(done.heads)})")


def cmd_restore(args: argparse.Namespace) -> None:
    # imported by the command that runs: `procopt --help` and the other commands start without it
    from app.core.backup import BackupError, restore

    settings = _settings_or_exit()
    try:
        done = restore(settings.database_url, args.file, force=args.force)
    except BackupError as exc:
        sys.exit(f"procopt: cannot restore: {exc}")
    print(f"procopt: restored {done.file} into {done.database} (migration {', '.join(done.heads)})")


def cmd_publish_feedback_kpis(args: argparse.Namespace) -> None:
    # imported by the command that runs: `procopt --help` and the other commands start without it
    from app.core.db import get_engine
    from app.feedback.service import publish_all_kpis
    from app.users.service import get_by_email

    _settings_or_exit()
    with Session(get_engine()) as session:
        actor = get_by_email(session, args.as_)
        if actor is None or not actor.is_active:
            sys.exit(f"procopt: no active account {args.as_}")
        try:
            done = publish_all_kpis(session, actor, args.process or None)
            session.commit()
        except AppError as exc:
            sys.exit(f"procopt: {exc.detail}")
    for code, result in done.items():
        state = f"{len(result.batches)} batch(es) written" if result.batches else "unchanged"
        print(f"procopt: {code}: {', '.join(result.kpis) or 'no KPI'}; {result.weeks} weeks, {state}")
    if not done:
        print("procopt: no feedback to publish")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="procopt", description="procopt: process optimization service")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply database migrations (alembic upgrade head)").set_defaults(func=cmd_migrate)

    p = sub.add_parser("demo", help="load demo data into an empty database and print the demo logins")
    p.add_argument("--quiet", action="store_true", help="do not print the demo logins")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("create-user", help="create an account")
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--role", default="member", choices=["admin", "lead", "member", "viewer"])
    p.add_argument("--name", help="display name (default: the email's local part)")
    p.add_argument("--department", help="department code")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("publish-feedback-kpis", help="publish the feedback counts per week and category as KPI "
                       "observations (daily, from cron: anonymous posts never publish themselves)")
    p.add_argument("--as", dest="as_", required=True, metavar="EMAIL",
                   help="the account that publishes: an administrator, or a triager of the processes named")
    p.add_argument("--process", action="append", metavar="CODE", help="only this process (repeatable)")
    p.set_defaults(func=cmd_publish_feedback_kpis)

    p = sub.add_parser("serve", help="serve the app with uvicorn")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("backup", help="write a consistent backup of the database to FILE (also while serving)")
    p.add_argument("file", metavar="FILE", type=Path,
                   help="the backup to write (must not exist): SQLite: a database file; PostgreSQL: a pg_dump archive")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="replace the database's contents with the backup in FILE")
    p.add_argument("file", metavar="FILE", type=Path, help="a backup made by `procopt backup`")
    p.add_argument("--force", action="store_true", help="overwrite a database that has data")
    p.set_defaults(func=cmd_restore)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
