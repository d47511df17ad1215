"""``ocpi-hub``: serve the hub, apply migrations, and manage partners through the admin API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from hub import admin_token as hub_admin_token
from hub import config as hub_config
from hub import keyfile, logs
from hub.config import Config, ConfigError
from hub.data_dir import DataDirBusyError
from hub.database import EmbeddedPostgres
from hub.serving import listener, public_url, supervisor
from partners.model import Role

log = logging.getLogger("ocpihub")


def _database(config: Config, command: str = "serve", *, share: bool | None = None
              ) -> tuple[str, EmbeddedPostgres | None]:
    """The DSN, and the embedded server this process owns (to stop at the end), if any.

    ``serve`` on a data dir another process owns is refused in one line (exit 2). ``migrate`` there
    uses the running hub's server and leaves it running (``share`` says which; default: all but serve).
    """
    if config.database_url:
        return config.database_url, None
    embedded = EmbeddedPostgres(hub_config.data_path(config))
    try:
        dsn = embedded.start(command, share=command != "serve" if share is None else share)
    except DataDirBusyError as busy:
        print(f"ocpi-hub: {busy}; stop it first, or set OCPI_HUB_DATA_DIR to another directory",
              file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    if embedded.guest_of is not None:
        print(f"ocpi-hub: using the database of the hub running on this data dir (PID {embedded.guest_of}); "
              "it stays running", file=sys.stderr, flush=True)
        return dsn, None
    return dsn, embedded


def cmd_serve(args: argparse.Namespace) -> int:
    config = hub_config.load(host=args.host, port=args.port, public_url=args.public_url, workers=args.workers)
    logs.configure(config.log_level)
    problem = public_url.unroutable(config)
    if problem:
        print(f"ocpi-hub: {problem}", file=sys.stderr)
        return 2
    keyfile.check(config)  # a configuration error is said as such, whatever the port's state
    # Bind before anything else: a busy port is one line and exit 2, with nothing started or printed.
    try:
        sock = listener.bind(config.host, config.port)
    except listener.PortBusyError as exc:
        print(f"ocpi-hub: {exc}", file=sys.stderr)
        return 2
    try:
        dsn, embedded = _database(config)
        try:
            return _serve(config, sock, dsn)
        finally:
            if embedded is not None:
                embedded.stop()
    finally:
        sock.close()


def _serve(config: Config, sock: socket.socket, dsn: str) -> int:
    secrets_key, generated = keyfile.secrets_key(config, embedded=not config.database_url)
    if generated:
        _announce({"level": "WARNING", "logger": "ocpihub", "msg": generated})
    admin_token = config.admin_token
    if not admin_token:
        kept = hub_config.data_path(config) / hub_admin_token.FILE_NAME
        admin_token, created = hub_admin_token.load_or_create(kept.parent)
        if created:
            # Shown this once, on the terminal (never through logging); kept in the data dir.
            where = f"kept in {kept} (mode 0600)" if kept.exists() else "not kept: a new one at every start"
            _announce({"level": "WARNING", "logger": "ocpihub",
                       "msg": f"admin token generated, {where}; shown only now", "admin_token": admin_token})
    scheme = "https" if config.tls_cert_file else "http"
    log.info(f"serving on {scheme}://{config.host}:{config.port} with {config.workers} worker(s)",
             extra={"versions_url": f"{config.base_url}/ocpi/versions", "workers": config.workers})
    if config.workers > 1:
        return supervisor.run(config.workers, sock, _worker_environment(config, dsn, admin_token, secrets_key))
    from hub.app import HubApp
    from hub.serving import server

    server.run(HubApp(config, dsn, admin_token=admin_token, secrets_key=secrets_key), config, sock)
    return 0


def _announce(fields: dict[str, str]) -> None:
    """One JSON line on stderr, shaped like a log line, outside logging (so no handler keeps it)."""
    print(orjson.dumps({"ts": logs.timestamp(time.time()), **fields}).decode(), file=sys.stderr, flush=True)


def _worker_environment(config: Config, dsn: str, admin_token: str, secrets_key: str) -> dict[str, str]:
    """What the workers build their app from (``hub.asgi``). The database was started here, in the
    parent, before any worker; metrics go through files in a fresh PROMETHEUS_MULTIPROC_DIR."""
    metrics_dir = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or hub_config.data_path(config) / "prometheus")
    shutil.rmtree(metrics_dir, ignore_errors=True)  # values of an earlier run must not be summed in
    metrics_dir.mkdir(parents=True)
    return os.environ | {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "OCPI_HUB_DATABASE_URL": dsn,
        "OCPI_HUB_ADMIN_TOKEN": admin_token,
        "OCPI_HUB_SECRETS_KEY": secrets_key,
        "OCPI_HUB_HOST": config.host,
        "OCPI_HUB_PORT": str(config.port),
        "OCPI_HUB_PUBLIC_URL": config.base_url,
        "OCPI_HUB_WORKERS": str(config.workers),
    }


def cmd_migrate(args: argparse.Namespace) -> int:
    config = hub_config.load()
    logs.configure(config.log_level)
    dsn, embedded = _database(config, "migrate")
    try:
        from partners import store

        applied = asyncio.run(store.migrate(dsn))
        print("applied: " + (", ".join(applied) if applied else "nothing (schema up to date)"))
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def cmd_secrets(args: argparse.Namespace) -> int:
    """``secrets new-key`` prints a fresh key; ``secrets re-encrypt`` reseals every stored secret under
    OCPI_HUB_SECRETS_KEY, opening them with it or OCPI_HUB_SECRETS_OLD_KEYS (all or nothing)."""
    from partners import secrets as sealing

    if args.action == "new-key":
        print(sealing.new_key())
        return 0
    config = hub_config.load()
    logs.configure(config.log_level)
    # Not beside a running hub: it holds the old key only, and the next reload would not open the tokens.
    dsn, embedded = _database(config, "secrets re-encrypt", share=False)
    try:
        key, _ = keyfile.secrets_key(config, embedded=not config.database_url)
        try:
            keyring = sealing.Keyring.from_text(key, config.secrets_old_keys)
            changed = asyncio.run(_re_encrypt(dsn, keyring))
        except sealing.SecretsKeyError as exc:
            print(f"ocpi-hub: nothing re-encrypted: {exc}", file=sys.stderr)
            return 1
        print(f"re-encrypted {changed} secret(s) under key id {keyring.current_id.hex()}")
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


async def _re_encrypt(dsn: str, keyring: Any) -> int:
    from partners import secrets as sealing
    from partners import store

    await store.migrate(dsn)
    pool = await store.create_pool(dsn)
    try:
        return await sealing.re_encrypt(pool, keyring)
    finally:
        await pool.close()


def _admin(args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None, *,
           raw: bytes | None = None, content_type: str = "application/json") -> Any:
    token = args.admin_token or hub_config.load().admin_token
    if not token:
        raise SystemExit("the admin token is needed: set OCPI_HUB_ADMIN_TOKEN (or pass --admin-token)")
    data = json.dumps(body).encode() if body is not None else raw
    request = urllib.request.Request(
        args.hub.rstrip("/") + path, data=data, method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"hub answered HTTP {exc.code}: {exc.read().decode(errors='replace')}") from None
    except urllib.error.URLError as exc:
        raise SystemExit(f"cannot reach the hub at {args.hub}: {exc.reason}") from None
    return json.loads(raw) if raw else None


def cmd_partners(args: argparse.Namespace) -> int:
    action = args.action
    if action == "invite":
        result = _admin(args, "POST", "/admin/invitations", {"name": args.name or "", "parties": args.party})
    elif action == "register":
        body: dict[str, Any] = {"versions_url": args.versions_url, "token": args.token, "name": args.name or "",
                                "parties": args.party}
        if args.role:
            body["role"] = args.role
        result = _admin(args, "POST", "/admin/registrations", body)
    elif action == "list":
        result = _admin(args, "GET", "/admin/platforms")
    elif action == "show":
        result = _admin(args, "GET", f"/admin/platforms/{args.platform_id}")
    elif action in ("suspend", "unsuspend", "rotate", "refresh"):
        result = _admin(args, "POST", f"/admin/platforms/{args.platform_id}/{action}")
    else:  # remove
        notify = "?notify=true" if args.notify else ""
        _admin(args, "DELETE", f"/admin/platforms/{args.platform_id}{notify}")
        result = {"removed": args.platform_id, "notified": args.notify}
    print(json.dumps(result, indent=2))
    return 0


_ROLES = tuple(role.value for role in Role)


# A party is shown as the hub writes it everywhere else (logs, errors, the admin API): NL*ABC, and with a
# role NL*ABC:CPO. The invitation options were first documented as NL:ABC:CPO, so ':' between country
# and party is accepted too, in every option.
_PARTY = re.compile(r"([A-Z]{2})[*:]([A-Z0-9]{3})")
_PARTY_AND_ROLE = re.compile(_PARTY.pattern + r":([A-Z]+)")


def party(text: str) -> dict[str, str]:
    """``NL*ABC:CPO`` (or ``NL:ABC:CPO``) as the admin API's planned party (identifiers are
    case-insensitive: upper-cased)."""
    found = _PARTY_AND_ROLE.fullmatch(text.strip().upper())
    if found is None or found.group(3) not in _ROLES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not COUNTRY*PARTY:ROLE (2 letters, 3 letters or digits, one of {', '.join(_ROLES)}), "
            "e.g. NL*ABC:CPO (NL:ABC:CPO also reads)")
    return {"country_code": found.group(1), "party_id": found.group(2), "role": found.group(3)}


def party_key(text: str) -> dict[str, str]:
    """``NL*CPO`` (or ``NL:CPO``), a party of an agreement, upper-cased."""
    found = _PARTY.fullmatch(text.strip().upper())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not COUNTRY*PARTY (2 letters, 3 letters or digits), e.g. NL*CPO (NL:CPO also reads)")
    return {"country_code": found.group(1), "party_id": found.group(2)}


def cmd_agreements(args: argparse.Namespace) -> int:
    action = args.action
    if action == "create":
        body: dict[str, Any] = {"cpo": args.cpo, "emsp": args.emsp}
        if args.modules:
            body["modules"] = [m for m in args.modules.replace(",", " ").split() if m]
        if args.valid_from:
            body["valid_from"] = args.valid_from
        if args.valid_until:
            body["valid_until"] = args.valid_until
        result = _admin(args, "POST", "/admin/agreements", body)
    elif action == "list":
        shown = f"{args.party['country_code']}*{args.party['party_id']}" if args.party else None
        query = urllib.parse.urlencode({k: v for k, v in (("party", shown), ("status", args.status)) if v})
        result = _admin(args, "GET", "/admin/agreements" + (f"?{query}" if query else ""))
    elif action == "show":
        result = _admin(args, "GET", f"/admin/agreements/{args.agreement_id}")
    elif action in ("suspend", "unsuspend"):
        result = _admin(args, "POST", f"/admin/agreements/{args.agreement_id}/{action}")
    elif action == "end":
        result = _admin(args, "DELETE", f"/admin/agreements/{args.agreement_id}")
    else:  # import
        path = Path(args.file)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SystemExit(f"cannot read {path}: {exc.strerror}") from None
        as_json = path.suffix.lower() == ".json" or (path.suffix.lower() != ".csv" and raw.lstrip()[:1] == b"[")
        result = _admin(args, "POST", "/admin/agreements/import", raw=raw,
                        content_type="application/json" if as_json else "text/csv")
    print(json.dumps(result, indent=2))
    return 0


def _admin_client(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    p.add_argument("--hub", default="http://127.0.0.1:8080", help="the hub's admin base URL (default: %(default)s)")
    p.add_argument("--admin-token", help="admin token (default: OCPI_HUB_ADMIN_TOKEN)")
    return p


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ocpi-hub", description="An OCPI 2.2.1 roaming hub.")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the hub (embedded PostgreSQL unless OCPI_HUB_DATABASE_URL is set)")
    serve.add_argument("--host", help=hub_config.DESCRIPTIONS["host"])
    serve.add_argument("--port", type=int, help=hub_config.DESCRIPTIONS["port"])
    serve.add_argument("--public-url", help=hub_config.DESCRIPTIONS["public_url"])
    serve.add_argument("--workers", type=int, help=hub_config.DESCRIPTIONS["workers"])
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations and exit")
    migrate.set_defaults(func=cmd_migrate)

    secrets_cmd = sub.add_parser("secrets", help="the key that encrypts partners' tokens in the database")
    secrets_actions = secrets_cmd.add_subparsers(dest="action", required=True)
    secrets_actions.add_parser("new-key", help="print a fresh key for OCPI_HUB_SECRETS_KEY")
    secrets_actions.add_parser("re-encrypt", help="re-encrypt every stored secret under OCPI_HUB_SECRETS_KEY, "
                               "reading with it or OCPI_HUB_SECRETS_OLD_KEYS; all or nothing")
    secrets_cmd.set_defaults(func=cmd_secrets)

    partners = _admin_client(sub, "partners", "manage partners through a running hub's admin API")
    actions = partners.add_subparsers(dest="action", required=True)
    invite = actions.add_parser("invite", help="create a token A for a platform that registers itself")
    invite.add_argument("--name", help="the platform's name, for the operator")
    invite.add_argument("--party", action="append", default=[], type=party, metavar="CC*PARTY:ROLE",
                        help="a party the platform will bring, e.g. 'NL*ABC:CPO' (repeatable); listed as PLANNED "
                             "in hubclientinfo until the platform registers")
    register = actions.add_parser("register", help="register with a platform that gave us a token A (in the "
                                                   "highest OCPI version both speak)")
    register.add_argument("versions_url")
    register.add_argument("token")
    register.add_argument("--name")
    register.add_argument("--role", choices=_ROLES,
                          help="the role of an OCPI 2.1.1 platform's party (2.1.1 credentials carry none)")
    register.add_argument("--party", action="append", default=[], type=party, metavar="CC*PARTY:ROLE",
                          help="or its parties with their roles, e.g. 'NL*ABC:CPO' (repeatable)")
    actions.add_parser("list", help="list platforms")
    helps = {
        "show": "show a platform (version, token spelling, parties; never a token)",
        "suspend": "suspend a platform", "unsuspend": "lift a suspension",
        "rotate": "update credentials on the platform's side: a new token for it, its endpoints read again, "
                  "moved to the highest common OCPI version",
        "refresh": "read the platform's versions and endpoints again",
        "remove": "remove a platform",
    }
    for action, text in helps.items():
        a = actions.add_parser(action, help=text)
        a.add_argument("platform_id", type=int)
        if action == "remove":
            a.add_argument("--notify", action="store_true",
                           help="first tell the platform it is unregistered (a credentials DELETE on its side); "
                                "nothing is removed if that fails")
    partners.set_defaults(func=cmd_partners)

    agreements = _admin_client(sub, "agreements", "manage roaming agreements through a running hub's admin API")
    steps = agreements.add_subparsers(dest="action", required=True)
    create = steps.add_parser("create", help="join a CPO and an eMSP-side party")
    create.add_argument("--cpo", required=True, type=party_key, metavar="CC*PARTY", help="the CPO party, e.g. 'NL*CPO'")
    create.add_argument("--emsp", required=True, type=party_key, metavar="CC*PARTY",
                        help="the eMSP-side party (EMSP, NSP, NAP, SCSP, OTHER), e.g. 'DE*MSP'")
    create.add_argument("--modules", help="modules covered, e.g. locations,tariffs (default: all)")
    create.add_argument("--from", dest="valid_from", help="RFC 3339 start (default: now)")
    create.add_argument("--until", dest="valid_until", help="RFC 3339 end (default: open-ended)")
    listing = steps.add_parser("list", help="list agreements (newest first)")
    listing.add_argument("--party", type=party_key, metavar="CC*PARTY",
                         help="only agreements naming this party, e.g. 'NL*CPO'")
    listing.add_argument("--status", choices=["active", "suspended", "ended"])
    for step in ("show", "suspend", "unsuspend", "end"):
        what = "end an agreement (kept for audit)" if step == "end" else f"{step} an agreement"
        a = steps.add_parser(step, help=what)
        a.add_argument("agreement_id", type=int)
    imported = steps.add_parser("import", help="import agreements from a CSV or JSON file (all or nothing)")
    imported.add_argument("file", help="CSV with a header line (cpo_country_code,cpo_party_id,emsp_country_code,"
                                       "emsp_party_id[,modules,valid_from,valid_until]) or a JSON list")
    agreements.set_defaults(func=cmd_agreements)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        print(f"ocpi-hub: configuration error: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return result


if __name__ == "__main__":
    sys.exit(main())
