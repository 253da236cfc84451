"""The `kundval` command: serve, migrate, apikey, user, audit, tariff, registry, scenario, report, demo,
openapi."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from service import db
from service.domain.errors import Problem
from service.domain.principal import ROLES, Principal
from service.settings import ConfigError, Settings
from service.usecases import accounts, audit, keys, tariffs
from service.usecases.system import opened

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env(**{k: getattr(args, k, None) for k in ("host", "port")})
        return args.run(args, settings) or 0
    except ConfigError as err:
        print(f"kundval: configuration error: {err}", file=sys.stderr)
        return 2
    except (db.SetupError, CommandError) as err:
        print(f"kundval: {err}", file=sys.stderr)
        return 1
    except Problem as err:
        print(f"kundval: {_refusal(err)}", file=sys.stderr)
        return 1


class CommandError(Exception):
    pass


def _refusal(err: Problem, name: Callable[[str], str] = str) -> str:
    """A refused action in one line: each field it names (as the command calls it) and what is wrong."""
    fields = "; ".join(f"{name(e['field'])}: {e['message']}" for e in err.extra.get("errors", []))
    return fields or err.detail


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kundval", description=__doc__)
    sub = p.add_subparsers(title="commands")

    serve = sub.add_parser("serve", help="run the HTTP API (migrates first)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1, or KUNDVAL_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (default 8000, or KUNDVAL_PORT)")
    serve.set_defaults(run=_serve)

    sub.add_parser(
        "migrate", help="apply pending database migrations (as the owner: KUNDVAL_MIGRATION_URL)"
    ).set_defaults(run=_migrate)

    key = sub.add_parser("apikey", help="create, list and revoke API keys").add_subparsers(title="actions")
    create = key.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--provider", help="the provider a `provider` key acts for (required for it)")
    create.add_argument("--tenant", help="tenant (default: KUNDVAL_DEFAULT_TENANT, kson)")
    create.add_argument("--name", help="who or what holds the key (shown in the audit log)")
    create.add_argument(
        "--user",
        help="make the key for this user (`kundval user`): named after them, one person for four eyes",
    )
    create.set_defaults(run=_apikey_create)
    listing = key.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--tenant")
    listing.set_defaults(run=_apikey_list)
    revoke = key.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", type=uuid.UUID)
    revoke.add_argument("--tenant")
    revoke.set_defaults(run=_apikey_revoke)

    user = sub.add_parser("user", help="personal accounts for the workplace (the browser)").add_subparsers(
        title="actions"
    )
    ucreate = user.add_parser("create", help="create a user; the password is read from standard input")
    ucreate.add_argument("username", help="2-63 of a-z 0-9 . _ -, starting with a letter")
    ucreate.add_argument("--role", required=True, choices=ROLES)
    ucreate.add_argument("--name", required=True, help="the person's full name")
    ucreate.add_argument("--provider", help="the provider a `provider` user acts for (required for it)")
    ucreate.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input (else asked for)"
    )
    ucreate.add_argument("--tenant")
    ucreate.set_defaults(run=_user_create)
    ulist = user.add_parser("list", help="list users (never their passwords)")
    ulist.add_argument("--tenant")
    ulist.set_defaults(run=_user_list)
    udisable = user.add_parser("disable", help="disable a user for good; their sessions end at once")
    udisable.add_argument("username")
    udisable.add_argument("--tenant")
    udisable.set_defaults(run=_user_disable)
    upassword = user.add_parser("password", help="set a new password; the user's sessions end")
    upassword.add_argument("username")
    upassword.add_argument("--password-stdin", action="store_true", help="read it from standard input")
    upassword.add_argument("--tenant")
    upassword.set_defaults(run=_user_password)

    aud = sub.add_parser("audit", help="audit log tools").add_subparsers(title="actions")
    verify = aud.add_parser(
        "verify",
        help="walk the hash chain and check every settlement's head and SHA-256; name the first broken",
    )
    verify.add_argument("--tenant")
    verify.set_defaults(run=_audit_verify)

    tariff = sub.add_parser("tariff", help="tariff versions").add_subparsers(title="actions")
    load = tariff.add_parser("load", help="load a tariff file (pending until an invoice_admin activates it)")
    load.add_argument("file", type=Path)
    load.add_argument("--tenant")
    load.set_defaults(run=_tariff_load)

    registry = sub.add_parser("registry", help="the registry").add_subparsers(title="actions")
    imp = registry.add_parser(
        "import", help="import the case system's export (as POST /v1/registry/import): all or nothing"
    )
    imp.add_argument("file", type=Path, help="a JSON array or NDJSON of tagged customers and decisions")
    imp.add_argument("--tenant")
    imp.set_defaults(run=_registry_import)

    scenario = sub.add_parser("scenario", help="scenario months").add_subparsers(title="actions")
    play = scenario.add_parser(
        "run",
        help="load a scenario into a fresh database through the HTTP API, reconcile it, print the result",
    )
    play.add_argument("input", type=Path, help="a scenario file (the format of examples/2024-03-input.json)")
    play.add_argument("--tariff", help="price every day of the period under this tariff version (a what-if)")
    play.add_argument("--output", type=Path, help="write the result here instead of to standard output")
    play.set_defaults(run=_scenario_run)

    report = sub.add_parser("report", help="follow-up reports (followup.md 2 and 3)").add_subparsers(
        title="reports"
    )
    follow = report.add_parser(
        "followup",
        help="follow-up figures per provider and month with each month's state; with --compare-from "
        "and --compare-to, period over period",
    )
    follow.add_argument("--from", dest="first", required=True, help="first month, YYYY-MM")
    follow.add_argument("--to", dest="last", required=True, help="last month, YYYY-MM")
    follow.add_argument("--compare-from", help="first month of the range compared with (a)")
    follow.add_argument("--compare-to", help="last month of the range compared with (a)")
    follow.add_argument("--provider", help="one provider only")
    follow.add_argument("--csv", type=Path, help="also write the report as CSV to this file")
    follow.add_argument("--tenant")
    follow.set_defaults(run=_report_followup)
    compare = report.add_parser(
        "compare",
        help="price a period under several tariffs (what-if runs on current inputs) and compare them",
    )
    compare.add_argument("--period", required=True, help="YYYY-MM")
    compare.add_argument(
        "--tariff", action="append", required=True, help="a tariff version; twice or more, the baseline first"
    )
    compare.add_argument("--provider", help="one provider only")
    compare.add_argument("--csv", type=Path, help="also write the comparison as CSV to this file")
    compare.add_argument("--tenant")
    compare.set_defaults(run=_report_compare)

    demo = sub.add_parser(
        "demo",
        help="load the worked month (or a generated Norrtälje-sized one) into the running service through "
        "its API, and make two demo administrators",
    )
    demo.add_argument(
        "--url", default=None, help="the running service (default: http://HOST:PORT of the settings)"
    )
    demo.add_argument(
        "--norrtalje",
        action="store_true",
        help="instead of the worked month, a generated Norrtälje-sized one (March 2024, 5 providers, "
        "about 70 visits a customer; seeded; about half a minute at 1 500 customers)",
    )
    demo.add_argument(
        "--customers",
        type=_positive,
        help="with --norrtalje: how many customers (default 1 500, Norrtälje's size)",
    )
    demo.add_argument("--tenant")
    demo.set_defaults(run=_demo)

    openapi = sub.add_parser("openapi", help="write the OpenAPI description")
    openapi.add_argument("--output", type=Path, default=OPENAPI_PATH)
    openapi.set_defaults(run=_openapi)
    return p


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from service import serving
    from service.app import create_app

    if settings.database_url:
        # Say plainly what stops the start (the database not there, a migration pending, a role that
        # could switch the guards off) before uvicorn turns it into a traceback.
        _with_db(settings)
    server = serving.server(create_app(settings), settings)
    server.run()
    # uvicorn exits quietly when start-up (e.g. a migration) fails; say so through the exit code.
    return 0 if server.started else 1


def _quiet(settings: Settings) -> Settings:
    """A command's output is what its user wants; its log says only what went wrong, unless a level
    was asked for."""
    from service.logging import configure_logging

    if "KUNDVAL_LOG_LEVEL" not in os.environ:
        settings = msgspec.structs.replace(settings, log_level="warning")
    configure_logging(settings)
    return settings


def _with_db(settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[Any]] | None = None) -> Any:
    """Run `work` in one transaction on the service's connection to a database migrated as the owner
    and checked (embedded or DATABASE_URL); without work, return the names of the migrations applied."""
    settings = _quiet(settings)

    async def run() -> Any:
        async with opened(settings) as (database, pool):
            if work is None:
                return database.migrated
            async with pool.acquire() as conn, conn.transaction():
                return await work(conn)

    return asyncio.run(run())


def _operator(args: argparse.Namespace, settings: Settings) -> Principal:
    """The person at the command line, acting in the tenant named (or the default one)."""
    return Principal.cli(args.tenant or settings.default_tenant, getpass.getuser())


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    applied = _with_db(settings)
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def _apikey_create(args: argparse.Namespace, settings: Settings) -> int:
    who = _operator(args, settings)
    try:
        record, key = _with_db(
            settings,
            lambda conn: keys.create(
                conn, who, role=args.role, name=args.name, provider=args.provider, user=args.user
            ),
        )
    except Problem as err:
        raise CommandError(_refusal(err, lambda field: f"--{field}")) from None
    print(f"created key {record.id} ({record.role}{', ' + record.provider_id if record.provider_id else ''})")
    print("the key is shown only now; store it safely:", file=sys.stderr)
    print(key)
    return 0


def _apikey_list(args: argparse.Namespace, settings: Settings) -> int:
    who = _operator(args, settings)
    for k in _with_db(settings, lambda conn: keys.list_keys(conn, who)):
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        print(f"{k.id}  {k.role:<13} {k.provider_id or '-':<20} {state:<24} {k.name}")
    return 0


def _apikey_revoke(args: argparse.Namespace, settings: Settings) -> int:
    who = _operator(args, settings)
    _with_db(settings, lambda conn: keys.revoke(conn, who, args.key_id))
    print(f"revoked {args.key_id}")
    return 0


def _password(args: argparse.Namespace) -> str:
    """The password from standard input (one line; `--password-stdin`) or asked for twice."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CommandError("the two passwords differ")
    return first


def _user_create(args: argparse.Namespace, settings: Settings) -> int:
    who = _operator(args, settings)
    password = _password(args)
    try:
        user = _with_db(
            settings,
            lambda conn: accounts.create(
                conn,
                who,
                username=args.username,
                role=args.role,
                name=args.name,
                password=password,
                provider=args.provider,
            ),
        )
    except Problem as err:
        raise CommandError(
            _refusal(err, lambda field: "USERNAME" if field == "username" else f"--{field}")
        ) from None
    print(f"created user {user.username} ({user.name}, {user.role})")
    return 0


def _user_list(args: argparse.Namespace, settings: Settings) -> int:
    who = _operator(args, settings)
    for u in _with_db(settings, lambda conn: accounts.list_users(conn, who)):
        state = f"disabled {u.disabled_at:%Y-%m-%d %H:%M}" if u.disabled_at else "active"
        print(f"{u.username:<20} {u.role:<13} {u.provider_id or '-':<12} {state:<24} {u.name}")
    return 0


def _user_disable(args: argparse.Namespace, settings: Settings) -> int:
    who = _operator(args, settings)
    _with_db(settings, lambda conn: accounts.disable(conn, who, args.username))
    print(f"disabled {args.username}")
    return 0


def _user_password(args: argparse.Namespace, settings: Settings) -> int:
    who = _operator(args, settings)
    password = _password(args)
    try:
        _with_db(settings, lambda conn: accounts.set_password(conn, who, args.username, password))
    except Problem as err:
        raise CommandError(_refusal(err, lambda field: f"--{field}")) from None
    print(f"new password for {args.username}; their sessions ended")
    return 0


def _audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    who = _operator(args, settings)
    result = _with_db(settings, lambda conn: audit.verify(conn, who))
    if result.ok:
        print(f"audit chain of {who.tenant_id} intact: {result.checked} entries verified")
        return 0
    if result.first_broken is None:  # the chain holds, a settlement does not
        print(f"settled data of {who.tenant_id} BROKEN: {result.problem}")
    else:
        print(f"audit chain of {who.tenant_id} BROKEN at entry {result.first_broken}: {result.problem}")
    return 1


def _tariff_load(args: argparse.Namespace, settings: Settings) -> int:
    who = _operator(args, settings)
    try:
        source = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CommandError(f"cannot read {args.file}: {err}") from None
    try:
        tariff, created = _with_db(settings, lambda conn: tariffs.load(conn, who, source))
    except Problem as err:
        raise CommandError(f"{args.file}: {_refusal(err)}") from None
    if not created:
        print(f"tariff {tariff.id} is already loaded with this content ({tariff.status})")
        return 0
    print(
        f"loaded tariff {tariff.id} ({tariff.valid_from} to {tariff.valid_to or 'open-ended'}), pending: an "
        f"invoice_admin activates it with POST /v1/tariffs/{tariff.id}/activation"
    )
    return 0


def _registry_import(args: argparse.Namespace, settings: Settings) -> int:
    from service.domain.errors import Problem
    from service.usecases.registry_import import import_registry

    who = _operator(args, settings)

    async def chunks() -> AsyncIterator[bytes]:
        with args.file.open("rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk

    async def work(conn: asyncpg.Connection) -> Any:
        with args.file.open("rb") as f:
            array = f.read(64).lstrip().startswith(b"[")
        return await import_registry(conn, who, args.file.read_bytes() if array else chunks())

    try:
        result = _with_db(settings, work)
    except OSError as err:
        raise CommandError(f"cannot read {args.file}: {err}") from None
    except Problem as err:
        rows = "; ".join(
            f"row {e.get('row')} {e['field']}: {e['message']}" for e in err.extra.get("errors", [])
        )
        raise CommandError(f"{args.file}: {rows or err.detail}") from None
    print(json.dumps(msgspec.to_builtins(result), indent=2))
    return 0


def _scenario_run(args: argparse.Namespace, settings: Settings) -> int:
    from service import scenario
    from service.logging import configure_logging

    configure_logging(msgspec.structs.replace(settings, log_level="warning"))
    try:
        data = args.input.read_bytes()
    except OSError as err:
        raise CommandError(f"cannot read {args.input}: {err}") from None
    try:
        loaded = scenario.read_scenario(data, str(args.input))
        result = asyncio.run(scenario.run(loaded, settings, tariff=args.tariff))
    except scenario.ScenarioError as err:
        raise CommandError(str(err)) from None
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _with_pool(settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[Any]]) -> Any:
    """Run `work` with a pool of the service's connections to the database `_with_db` would use
    (starting runs needs a pool)."""
    settings = _quiet(settings)

    async def run() -> Any:
        async with opened(settings) as (_, pool):
            return await work(pool)

    return asyncio.run(run())


def _table(header: list[str], rows: list[list[str]], text: int = 1) -> str:
    """Columns for a terminal: the first `text` columns left-aligned, the figures right-aligned."""
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if n < text else str(c).rjust(w)
            for n, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _write_csv(path: Path | None, export: Any) -> None:
    if path is None:
        return
    try:
        path.write_bytes(export.body)
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err}") from None
    print(f"wrote {path}")


def _refused(err: Problem) -> CommandError:
    names = {"from": "--from", "to": "--to", "compare_from": "--compare-from", "compare_to": "--compare-to"}
    return CommandError(_refusal(err, lambda field: names.get(field, f"--{field}")))


def _report_followup(args: argparse.Namespace, settings: Settings) -> int:
    from service.domain.followup import swedish_percent
    from service.usecases import reports

    who = _operator(args, settings)
    if (args.compare_from is None) != (args.compare_to is None):
        raise CommandError("--compare-from and --compare-to go together")

    def share(f: Any) -> str:
        return swedish_percent(None if f.performed_share is None else Decimal(f.performed_share))

    def figures(f: Any) -> list[str]:
        return [
            f.granted_minutes,
            f.performed_minutes,
            share(f),
            str(f.customers_below_target),
            str(sum(f.licensed_visits.values())),
            str(f.declined_visits),
            str(sum(f.payout_by_area.values(), Decimal("0.00"))),
        ]

    head = [
        "granted min",
        "performed min",
        "performed",
        "below 85 %",
        "licensed visits",
        "declined",
        "payout",
    ]
    try:
        if args.compare_from is None:
            report = _with_db(
                settings,
                lambda conn: reports.followup_report(
                    conn, who, first=args.first, last=args.last, provider=args.provider
                ),
            )
        else:
            report = _with_db(
                settings,
                lambda conn: reports.period_over_period(
                    conn,
                    who,
                    first=args.first,
                    last=args.last,
                    compare_first=args.compare_from,
                    compare_last=args.compare_to,
                    provider=args.provider,
                ),
            )
    except Problem as err:
        raise _refused(err) from None
    if args.compare_from is not None:
        blocks = [(f"{p.provider} ({p.name})", p) for p in report.providers]
        if report.tenant_figures is not None:
            blocks.append((f"tenant {report.tenant}", report.tenant_figures))
        a, b = report.a, report.b
        for title, block in blocks:
            print(f"{title}: {b.from_}..{b.to} against {a.from_}..{a.to}")
            rows = []
            for c in block.changes:
                shown = [c.a, c.b, c.difference]
                if c.unit == "points":  # a share: as a percentage, its difference in points
                    shown = [swedish_percent(None if x is None else Decimal(str(x))) for x in (c.a, c.b)]
                    shown.append(None if c.change is None else f"{c.change} p.e.")
                change = None if c.change is None else f"{c.change} {'p.e.' if c.unit == 'points' else '%'}"
                rows.append([c.figure, *("–" if x is None else str(x) for x in [*shown, change])])
            print(_table(["figure", "a", "b", "difference", "change"], rows) + "\n")
        _write_csv(args.csv, reports.period_over_period_csv(report))
        return 0
    rows = []
    for p in report.providers:
        for m in p.months:
            state = m.status + (", stale" if m.stale else "")
            rows.append(
                [p.provider, m.period, state, *(figures(m.figures) if m.figures else [""] * len(head))]
            )
        rows.append([p.provider, f"{report.range.from_}..{report.range.to}", "", *figures(p.total)])
    print(_table(["provider", "month", "state", *head], rows, text=3))
    if report.tenant_figures is not None:
        whole = report.tenant_figures
        states = ("settled", "prepared", "reconciled", "open", "stale")
        rows = [
            [t.period, *(str(getattr(t.providers, x)) for x in states), *figures(t.figures)]
            for t in whole.months
        ]
        rows.append(
            [
                f"{report.range.from_}..{report.range.to}",
                *(str(getattr(whole.providers, x)) for x in states),
                *figures(whole.total),
            ]
        )
        print(f"\ntenant {report.tenant}: providers per state and the figures of all")
        print(_table(["month", *states, *head], rows))
    _write_csv(args.csv, reports.followup_csv(report))
    return 0


def _report_compare(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.reports import ComparisonIn
    from service.usecases import reports

    who = _operator(args, settings)
    try:
        data = msgspec.convert(
            {"period": args.period, "tariffs": args.tariff, "provider": args.provider}, ComparisonIn
        )
    except msgspec.ValidationError as err:
        raise CommandError(str(err).replace("$.", "--").replace("tariffs", "tariff")) from None
    try:
        report = _with_pool(settings, lambda pool: reports.create_comparison(pool, who, data))
    except Problem as err:
        raise _refused(err) from None
    tariff_ids = [r.tariff for r in report.runs]
    header = ["", "area", tariff_ids[0]]
    for t in tariff_ids[1:]:
        header += [t, "difference", "%"]
    blocks = [(f"{p.provider} ({p.name})", p) for p in report.providers]
    if report.tenant_figures is not None:
        blocks.append((f"tenant {report.tenant}", report.tenant_figures))
    print(
        f"{report.period} under {', '.join(tariff_ids)} (what-if runs {', '.join(str(r.run) for r in report.runs)})"
    )
    for title, block in blocks:
        rows = []
        for row in [*block.areas, *block.components, block.total]:
            base, *others = row.cells
            cells = [row.key, row.area or "", "–" if base.absent else str(base.amount)]
            for c in others:
                change = "–" if c.change is None else str(c.change)
                cells += ["–" if c.absent else str(c.amount), str(c.difference), change]
            rows.append(cells)
        print(f"\n{title}")
        print(_table(header, rows, text=2))
    _write_csv(args.csv, reports.comparison_csv(report))
    return 0


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1, not {text!r}")
    return int(text)


DEMO_MONTH = Path(__file__).resolve().parent / "web" / "demo" / "2024-03-input.json"
DEMO_USERS = [("anna", "Anna Andersson"), ("bo", "Bo Berg")]


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    """The worked month (March 2024, two providers), or with --norrtalje a generated Norrtälje-sized
    one (service/scenario_synth.py, the benchmarks' month), through the running service's API, with
    keys made for the load and revoked after it; then two invoice administrators to log in as."""
    import secrets

    import httpx

    from service.scenario import read_scenario
    from service.scenario_load import ScenarioLoadError, load_scenario

    who = _operator(args, settings)
    url = (args.url or f"http://{settings.host}:{settings.port}").rstrip("/")
    if args.customers and not args.norrtalje:
        raise CommandError("--customers sizes the generated month: give it with --norrtalje")
    if args.norrtalje:
        from service import scenario_synth

        month = scenario_synth.scenario(
            scenario_synth.generate(customers=args.customers or 1500, providers=5)
        )
        # Decision ids are the tenant's, and the generated D0, D1, ... would meet the worked month's
        # D1-D4 (its other ids are its own providers'): with an N both months fit in one service.
        for decision in month["decisions"]:
            decision["id"] = f"N{decision['id']}"
            for line in decision["lines"]:
                line["id"] = f"N{line['id']}"
        scenario = read_scenario(msgspec.json.encode(month), "the generated month")
        what = (
            f"a generated month {scenario['period']} ({len(scenario['customers'])} customers, "
            f"{len(scenario['providers'])} providers, {len(scenario['visits'])} visits)"
        )
    else:
        scenario = read_scenario(DEMO_MONTH.read_bytes(), str(DEMO_MONTH))
        what = f"the worked month {scenario.get('period', '2024-03')}"
    made = []

    def key(role: str, provider: str | None = None) -> str:
        record, value = _with_db(
            settings,
            lambda conn: keys.create(
                conn, who, role=role, name=f"demo:{provider or role}", provider=provider
            ),
        )
        made.append(record.id)
        return f"Bearer {value}"

    async def register(registry: str) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            for provider in scenario["providers"]:
                response = await client.post(
                    "/v1/providers", json=provider, headers={"Authorization": registry}
                )
                if response.status_code >= 400:
                    raise CommandError(f"registering provider {provider['id']} at {url}: {response.text}")

    async def load(loaded: dict[str, str]) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=600) as client:
            await load_scenario(client, scenario, loaded)

    try:
        registry = key("registry")
        asyncio.run(register(registry))  # a provider's key needs the provider
        asyncio.run(
            load({"registry": registry} | {p["id"]: key("provider", p["id"]) for p in scenario["providers"]})
        )
    except httpx.HTTPError as err:
        raise CommandError(
            f"cannot reach the service at {url} (is `kundval serve` running?): {err}"
        ) from None
    except ScenarioLoadError as err:
        raise CommandError(str(err)) from None
    finally:
        for key_id in made:
            _with_db(settings, lambda conn, key_id=key_id: keys.revoke(conn, who, key_id))
    print(f"loaded {what} into {url}")
    for username, name in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        try:
            _with_db(
                settings,
                lambda conn, u=username, n=name, p=password: accounts.create(
                    conn, who, username=u, role="invoice_admin", name=n, password=p
                ),
            )
        except Problem as err:
            print(f"user {username} not made: {_refusal(err)}")
            continue
        print(f"user {username} ({name}, invoice_admin), password: {password}")
    print(f"log in at {url}/login; each of the two may attest what the other prepared")
    return 0


def openapi_document() -> dict[str, Any]:
    from service.app import create_app

    app = create_app(Settings(database_url="postgresql://unused/openapi", log_format="console"))
    return app.openapi_schema.to_schema()


def _openapi(args: argparse.Namespace, _settings: Settings) -> int:
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render_openapi(), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


def render_openapi() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.exit(main())
