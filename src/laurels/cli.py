"""The `laurels` command: serve, create users, check the configuration, run Django commands.

Each subcommand is a thin caller: accounts are made by `accounts.services`, the schema by
Django's migrations, the configuration by `laurels.settings`.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import os
import sys
from collections.abc import Sequence

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def default_workers() -> int:
    """One worker process per core: the work is CPU-bound Python behind the GIL."""
    return max(1, os.cpu_count() or 1)


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "laurels.settings")
    import django

    django.setup()


# --- serve -------------------------------------------------------------------------------


def static_files_fingerprint() -> str:
    """A digest of every static source file's path, size and modification time."""
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256()
    for finder in get_finders():
        for path, storage in finder.list(ignore_patterns=[]):
            full = storage.path(path)
            stat = os.stat(full)
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def collect_static_if_needed(verbose: bool = True) -> bool:
    """Run collectstatic only when the static sources changed since the last run."""
    from django.conf import settings
    from django.core.management import call_command

    stamp = settings.STATIC_ROOT / ".fingerprint"
    fingerprint = static_files_fingerprint()
    if stamp.exists() and stamp.read_text() == fingerprint:
        return False
    if verbose:
        print("Collecting static files...", flush=True)
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(fingerprint)
    return True


def prepare_data_dir() -> str | None:
    """Migrate, make the built-in apps and collect static files; None when done, else
    one line saying why the data directory's disk or database took no writes."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import DatabaseError

    from laurels.connect.services import builtin_apps_ensure
    from laurels.core.health import disk_free_mb
    from laurels.core.storage import storage_fault

    free_mb = disk_free_mb(settings.LAURELS_HOME)
    if free_mb < settings.LAURELS_HEALTH_MIN_FREE_MB:
        print(
            f"warning: {free_mb} MB free in {settings.LAURELS_HOME} (below "
            f"LAURELS_HEALTH_MIN_FREE_MB={settings.LAURELS_HEALTH_MIN_FREE_MB}); "
            "/healthz answers 503 until there is room.",
            file=sys.stderr,
            flush=True,
        )
    try:
        call_command("migrate", interactive=False, verbosity=1)
        builtin_apps_ensure()
        collect_static_if_needed()
    except (OSError, DatabaseError) as error:
        if not storage_fault(error):
            raise
        return f"LAURELS_HOME={settings.LAURELS_HOME} takes no writes: {error}"
    return None


def cmd_serve(args: argparse.Namespace) -> int:
    setup_django()
    from django.conf import settings
    from django.db import connections

    problem = prepare_data_dir()
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    connections.close_all()  # never hand an open connection to forked workers

    # Workers import the app anew; give them the resolved data dir.
    os.environ["LAURELS_HOME"] = str(settings.LAURELS_HOME)
    from granian.constants import Interfaces
    from granian.server import Server

    jobs = None
    if settings.LAURELS_JOBS_IN_PROCESS:
        from laurels.jobs.keeper import RunnerKeeper

        # Watched and started again whenever it exits (`laurels.jobs.keeper`).
        jobs = RunnerKeeper(
            [sys.executable, "-m", "laurels", "jobs", "loop", "--parent", str(os.getpid())]
        )
        jobs.start()
        print(
            "Periodic jobs run beside the server (LAURELS_JOBS_IN_PROCESS), and send its e-mail.",
            flush=True,
        )
    print(
        f"Laurels serving {settings.LAURELS_BASE_URL} on http://{args.host}:{args.port} "
        f"with {args.workers} worker(s); data in {settings.LAURELS_HOME}",
        flush=True,
    )
    server = Server(
        "laurels.wsgi:application",
        address=args.host,
        port=args.port,
        interface=Interfaces.WSGI,
        workers=args.workers,
        blocking_threads=args.threads,
        log_access=args.access_log,
        respawn_failed_workers=True,
    )
    try:
        server.serve()
    finally:
        if jobs is not None:
            jobs.stop()
    return 0


# --- createuser ----------------------------------------------------------------------------


def cmd_createuser(args: argparse.Namespace) -> int:
    setup_django()
    from django.core.exceptions import ValidationError

    from laurels.accounts.services import user_create
    from laurels.core.errors import DomainError

    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            print("error: give --password, or run in a terminal to be asked.", file=sys.stderr)
            return 2
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            print("error: the two passwords differ.", file=sys.stderr)
            return 2
    try:
        user = user_create(
            email=args.email,
            password=password,
            first_name=args.first_name,
            last_name=args.last_name,
            verified=True,
            is_admin=args.admin,
        )
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            for message in messages:
                print(f"error: {field}: {message}", file=sys.stderr)
        return 2
    except DomainError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    role = "administrator" if args.admin else "user"
    print(f"Created {role} {user.email} (entityId {user.entity_id}); the address is verified.")
    return 0


# --- check ---------------------------------------------------------------------------------


def _database_description(database: dict) -> str:
    if database["ENGINE"].endswith("sqlite3"):
        return f"SQLite {database['NAME']} (WAL)"
    host = database.get("HOST") or "local socket"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"{database['ENGINE'].rsplit('.', 1)[-1]} {database.get('NAME')} at {host}{port}"


def cmd_check(args: argparse.Namespace) -> int:
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import DatabaseError, connection

    cache_backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    rows = [
        ("LAURELS_HOME", str(settings.LAURELS_HOME)),
        ("LAURELS_BASE_URL", settings.LAURELS_BASE_URL),
        ("database", _database_description(settings.DATABASES["default"])),
        ("cache", cache_backend + (" (REDIS_URL)" if settings.REDIS_URL else " (per process)")),
        (
            "email",
            settings.EMAIL_BACKEND.rsplit(".", 2)[-2]
            + (f" via {settings.EMAIL_HOST}" if settings.EMAIL_HOST else ""),
        ),
        ("email from", settings.DEFAULT_FROM_EMAIL),
        ("allowed hosts", ", ".join(settings.ALLOWED_HOSTS)),
        ("sign-up", "open" if settings.LAURELS_SIGNUP_ENABLED else "closed"),
        ("DEBUG", str(settings.DEBUG)),
        (
            "SECRET_KEY",
            "from the environment"
            if os.environ.get("SECRET_KEY")
            else f"kept in {settings.LAURELS_HOME / 'secret_key'}",
        ),
        (
            "encryption keys",
            f"{len(settings.LAURELS_ENCRYPTION_KEYS)} from LAURELS_ENCRYPTION_KEYS"
            if os.environ.get("LAURELS_ENCRYPTION_KEYS", "").strip(", ")
            else f"kept in {settings.LAURELS_HOME / 'encryption_keys'}",
        ),
    ]
    width = len("database reachable")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        print(f"{'database reachable'.ljust(width)}  no: {error}")
        return 1
    print(f"{'database reachable'.ljust(width)}  yes")
    call_command("check", deploy=args.deploy)
    return 0


# --- apps ----------------------------------------------------------------------------------


def _app_summary(application) -> dict:
    return {
        "client_id": application.client_id,
        "name": application.name,
        "client_type": application.client_type,
        "redirect_uris": application.redirect_uris.split(),
        "scopes": application.allowed_scopes,
        "website": application.website_url,
        "logo_url": application.logo_url,
        "testing": application.testing,
        "first_party": application.first_party,
        "enabled": application.enabled,
        "review": application.review,
        "owner": application.user.email if application.user else None,
        "acts_as_owner": application.acts_as_owner,
        "created": application.created.isoformat(),
    }


def _print_validation_error(error) -> int:
    for field, messages in error.message_dict.items():
        for message in messages:
            print(f"error: {field}: {message}", file=sys.stderr)
    return 2


def _owner_by_email(email: str):
    """The account an app's owner names; a ValidationError when there is none."""
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ValidationError

    owner = get_user_model()._default_manager.filter(email__iexact=email.strip()).first()
    if owner is None:
        raise ValidationError({"owner": [f"No account with the email address {email}."]})
    return owner


def _print_app(summary: dict) -> None:
    width = max(len(key) for key in summary)
    for key, value in summary.items():
        if isinstance(value, list):
            value = " ".join(value) or "-"
        print(f"{key.ljust(width)}  {value}")


def _with_app(handler):
    """Look the app up by client id; a missing one is a clear error, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        setup_django()
        from laurels.connect.services import application_get
        from laurels.core.errors import DomainError

        try:
            return handler(args, application_get(client_id=args.client_id))
        except DomainError as error:
            print(f"error: {error.message}", file=sys.stderr)
            return 2

    return run


def cmd_apps_create(args: argparse.Namespace) -> int:
    setup_django()
    import json

    from django.core.exceptions import ValidationError
    from django.db import transaction

    from laurels.connect.services import application_set_acts_as_owner

    try:
        with transaction.atomic():
            created = _apps_create(args)
            if args.owner or args.acts_as_owner:
                application_set_acts_as_owner(
                    application=created.application,
                    acts_as_owner=args.acts_as_owner,
                    owner=_owner_by_email(args.owner) if args.owner else None,
                    actor=None,
                )
    except ValidationError as error:
        return _print_validation_error(error)
    summary = {**_app_summary(created.application), "client_secret": created.client_secret}
    if args.json:
        print(json.dumps(summary))
        return 0
    _print_app(summary)
    if created.client_secret:
        print("\nKeep the client secret now: it is stored hashed and cannot be shown again.")
    return 0


def _apps_create(args: argparse.Namespace):  # -> CreatedApplication
    from laurels.connect.services import application_create

    return application_create(
        name=args.name,
        redirect_uris=args.redirect_uri,
        scopes=args.scopes,
        public=args.public,
        website_url=args.website,
        logo_url=args.logo_url,
        terms_url=args.terms_url,
        privacy_url=args.privacy_url,
        testing=args.testing,
        first_party=args.first_party,
    )


def cmd_apps_list(args: argparse.Namespace) -> int:
    setup_django()
    from laurels.connect.models import Application

    rows = Application.objects.order_by("name")
    print(f"{'CLIENT ID':42}  {'TYPE':12}  {'STATE':16}  NAME")
    for application in rows:
        state = "disabled" if not application.enabled else application.review
        print(
            f"{application.client_id:42}  {application.client_type:12}  {state:16}  "
            f"{application.name}"
        )
    return 0


@_with_app
def cmd_apps_show(args: argparse.Namespace, application) -> int:
    _print_app(_app_summary(application))
    return 0


@_with_app
def cmd_apps_rotate_secret(args: argparse.Namespace, application) -> int:
    from django.core.exceptions import ValidationError

    from laurels.connect.services import application_rotate_secret

    try:
        secret = application_rotate_secret(application=application)
    except ValidationError as error:
        print(f"error: {' '.join(error.messages)}", file=sys.stderr)
        return 2
    print(f"client_secret  {secret}")
    print("The old secret no longer works. Keep this one now: it cannot be shown again.")
    return 0


@_with_app
def cmd_apps_disable(args: argparse.Namespace, application) -> int:
    from laurels.connect.services import application_set_enabled

    application_set_enabled(application=application, enabled=False)
    print(
        f"Disabled {application.name} ({application.client_id}): it can no longer "
        "start a flow or use its tokens."
    )
    return 0


@_with_app
def cmd_apps_acts_as_owner(args: argparse.Namespace, application) -> int:
    """Switch an app's client credentials acting as its owner on or off (audited)."""
    from django.core.exceptions import ValidationError

    from laurels.connect.services import application_set_acts_as_owner

    try:
        owner = _owner_by_email(args.owner) if args.owner else application.user
        application_set_acts_as_owner(
            application=application, acts_as_owner=args.state == "on", owner=owner, actor=None
        )
    except ValidationError as error:
        return _print_validation_error(error)
    if application.acts_as_owner:
        print(
            f"{application.name} ({application.client_id}): client credentials tokens now "
            f"act as {application.user.email}, with the app's scopes."
        )
    else:
        print(
            f"{application.name} ({application.client_id}): client credentials tokens are "
            "the app's own; those that acted as its owner are ended."
        )
    return 0


@_with_app
def cmd_apps_enable(args: argparse.Namespace, application) -> int:
    from laurels.connect.services import application_set_enabled

    application_set_enabled(application=application, enabled=True)
    print(f"Enabled {application.name} ({application.client_id}).")
    return 0


def _custom_pairs(pairs: list[str]) -> dict[str, str]:
    """`--custom key=value` options as a dict; a ValidationError for one without `=`."""
    from django.core.exceptions import ValidationError

    custom = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals:
            raise ValidationError({"custom": [f"{pair}: write custom parameters as key=value."]})
        custom[key.strip()] = value
    return custom


def _lti_summary(registration) -> dict:
    from django.conf import settings
    from django.urls import reverse

    base = settings.LAURELS_BASE_URL.rstrip("/")
    return {
        "lti_client_id": registration.client_id,
        "deployment_id": registration.deployment_id,
        "issuer": settings.LAURELS_BASE_URL,
        "auth_url": base + reverse("lti:authorize"),
        "jwks_url": base + reverse("lti:jwks"),
        "login_url": registration.login_url,
        "launch_url": registration.launch_url,
        "tool_jwks_url": registration.jwks_url or "-",
        "tool_public_key": "pasted" if registration.public_key else "-",
        "locations": list(registration.locations),
        "title": registration.button_title,
        "icon_url": registration.icon_url or "-",
        "custom": [f"{key}={value}" for key, value in registration.custom.items()],
        "enabled": registration.enabled,
        "lti11": registration.lti11_enabled,
        "lti11_consumer_key": registration.lti11_consumer_key or "-",
    }


@_with_app
def cmd_apps_lti(args: argparse.Namespace, application) -> int:
    """Register the app as an LTI tool, change or remove its registration, switch LTI 1.1."""
    from django.core.exceptions import ValidationError
    from django.db import transaction

    from laurels.lti import services
    from laurels.lti.models import ToolRegistration

    if args.remove:
        services.registration_delete(application=application, actor=None)
        print(f"{application.name} ({application.client_id}) is no LTI tool any more.")
        return 0
    current = ToolRegistration.objects.filter(application=application).first()
    changes = (
        args.login_url,
        args.launch_url,
        args.jwks_url,
        args.public_key_file,
        args.location,
        args.title,
        args.icon_url,
        args.custom,
    )
    secret = None
    try:
        with transaction.atomic():
            if current is None or any(change is not None for change in changes):
                current = services.registration_save(
                    application=application, actor=None, **_lti_fields(args, current)
                )
            if args.lti11 is not None:
                secret = services.lti11_set(registration=current, enabled=args.lti11, actor=None)
                current.refresh_from_db()
    except ValidationError as error:
        return _print_validation_error(error)
    except OSError as error:
        print(f"error: cannot read the public key file: {error}", file=sys.stderr)
        return 2
    _print_app(_lti_summary(current))
    if secret:
        print(f"\nlti11_secret  {secret}")
        print("Keep the LTI 1.1 shared secret now: it is stored encrypted and not shown again.")
    return 0


def _lti_fields(args: argparse.Namespace, current) -> dict:
    """registration_save's arguments: the options given, else what is registered."""
    from pathlib import Path

    def given(value, kept):
        return kept if value is None else value

    public_key = Path(args.public_key_file).read_text() if args.public_key_file else None
    jwks_url = args.jwks_url
    if public_key is not None and jwks_url is None:
        jwks_url = ""  # a pasted key replaces the JWKS URL
    if jwks_url and public_key is None:
        public_key = ""
    return {
        "login_url": given(args.login_url, current.login_url if current else ""),
        "launch_url": given(args.launch_url, current.launch_url if current else ""),
        "jwks_url": given(jwks_url, current.jwks_url if current else ""),
        "public_key": given(public_key, current.public_key if current else ""),
        "locations": given(args.location, current.locations if current else []),
        "title": given(args.title, current.title if current else ""),
        "icon_url": given(args.icon_url, current.icon_url if current else ""),
        "custom": _custom_pairs(args.custom)
        if args.custom is not None
        else (current.custom if current else {}),
        "enabled": current.enabled if current else True,
    }


def add_apps_commands(commands) -> None:
    apps = commands.add_parser("apps", help="register and manage connected apps (OAuth clients)")
    sub = apps.add_subparsers(dest="apps_command", required=True, metavar="ACTION")

    create = sub.add_parser("create", help="register an app; prints its client id and secret")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        metavar="URI",
        help="exact redirect URI (repeat for several)",
    )
    create.add_argument(
        "--scopes",
        default="r:profile",
        help='space-separated scopes the app may ask for, e.g. "r:profile r:backpack"',
    )
    create.add_argument(
        "--public", action="store_true", help="a public client (no secret; must use PKCE)"
    )
    create.add_argument("--website", default="")
    create.add_argument("--logo-url", default="")
    create.add_argument("--terms-url", default="")
    create.add_argument("--privacy-url", default="")
    create.add_argument(
        "--testing", action="store_true", help="in testing: may use http://localhost redirect URIs"
    )
    create.add_argument(
        "--first-party",
        action="store_true",
        help="run by this server's operators: may use the password grant",
    )
    create.add_argument("--owner", metavar="EMAIL", help="the account that owns the app")
    create.add_argument(
        "--acts-as-owner",
        action="store_true",
        help="client credentials tokens act as the owner (Badgr's server-to-server pattern)",
    )
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(handler=cmd_apps_create)

    sub.add_parser("list", help="list the registered apps").set_defaults(handler=cmd_apps_list)
    for name, handler, text in [
        ("show", cmd_apps_show, "show one app"),
        ("rotate-secret", cmd_apps_rotate_secret, "replace an app's client secret"),
        ("disable", cmd_apps_disable, "stop an app from connecting or using its tokens"),
        ("enable", cmd_apps_enable, "allow a disabled app again"),
    ]:
        action = sub.add_parser(name, help=text)
        action.add_argument("client_id", metavar="CLIENT_ID")
        action.set_defaults(handler=handler)
    owner_switch = sub.add_parser(
        "acts-as-owner",
        help="let an app's client credentials tokens act as its owner (on), or stop it (off)",
    )
    owner_switch.add_argument("client_id", metavar="CLIENT_ID")
    owner_switch.add_argument("state", choices=["on", "off"])
    owner_switch.add_argument("--owner", metavar="EMAIL", help="make this account the owner")
    owner_switch.set_defaults(handler=cmd_apps_acts_as_owner)

    lti = sub.add_parser(
        "lti",
        help="register an app as an LTI 1.3 tool (its launch buttons), change or remove it",
    )
    lti.add_argument("client_id", metavar="CLIENT_ID")
    lti.add_argument("--login-url", metavar="URL", help="the tool's OIDC login initiation URL")
    lti.add_argument("--launch-url", metavar="URL", help="the tool's launch (target link) URL")
    key = lti.add_mutually_exclusive_group()
    key.add_argument("--jwks-url", metavar="URL", help="where the tool publishes its keys")
    key.add_argument("--public-key-file", metavar="PATH", help="the tool's public key (PEM/JWK)")
    lti.add_argument(
        "--location",
        action="append",
        metavar="LOCATION",
        help="where its button shows: issuer, badgeclass, assertion, backpack, "
        "backpack.assertion or profile (repeat for several)",
    )
    lti.add_argument("--title", help="the button's text (default: the app's name)")
    lti.add_argument("--icon-url", metavar="URL", help="an https image for the button")
    lti.add_argument(
        "--custom", action="append", metavar="KEY=VALUE", help="a custom parameter (repeatable)"
    )
    lti.add_argument(
        "--lti11",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="LTI 1.1 launches (deprecated; prints a new shared secret once when switched on)",
    )
    lti.add_argument("--remove", action="store_true", help="remove the app's LTI registration")
    lti.set_defaults(handler=cmd_apps_lti)


# --- award -------------------------------------------------------------------------------

AWARD_CHUNK = 1000


def _progress(done: int, total: int, width: int = 30) -> None:
    filled = width * done // max(total, 1)
    end = "\n" if done == total else ""
    print(
        f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total} awards prepared",
        end=end,
        file=sys.stderr,
        flush=True,
    )


def _csv_awards(path: str):
    """(line, award) of each row of the CSV file (`laurels.issuing.award_files`, the
    reader the web's CSV upload uses too); UnreadableCsv naming each problem."""
    from laurels.issuing.award_files import UnreadableCsv, csv_rows

    with open(path, "rb") as handle:
        checked = csv_rows(handle.read())
    if checked.problems:
        raise UnreadableCsv("\n".join(str(problem) for problem in checked.problems))
    return checked.awards()


def cmd_award(args: argparse.Namespace) -> int:
    """Award a badge class to every row of a CSV file: all rows or none."""
    setup_django()
    import re

    from django.core.exceptions import ValidationError
    from django.db import transaction

    from laurels.accounts.models import EmailAddress, normalize_email_address
    from laurels.connect.permissions import Caller, require_issuing
    from laurels.connect.permissions import IssuingAction as Action
    from laurels.core.errors import DomainError, PermissionDenied
    from laurels.issuing.models import BadgeClass
    from laurels.issuing.services import assertions_award

    badge_class = (
        BadgeClass.objects.select_related("issuer").filter(entity_id=args.badge_class).first()
    )
    if badge_class is None:
        print(f"error: no badge class {args.badge_class}", file=sys.stderr)
        return 2
    actor = None
    if args.as_user:
        address = EmailAddress.objects.filter(
            email=normalize_email_address(args.as_user), verified=True
        ).first()
        try:
            if address is None:
                raise PermissionDenied()
            # The same question, answered in the same place, as for the API and pages.
            require_issuing(Caller(user=address.user), Action.AWARD, badge_class.issuer)
        except DomainError:
            print(
                f"error: {args.as_user} may not award badges of {badge_class.issuer.name}",
                file=sys.stderr,
            )
            return 2
        actor = address.user
    from laurels.issuing.award_files import UnreadableCsv

    try:
        rows = _csv_awards(args.csv)
    except OSError as error:
        print(f"error: cannot read {args.csv}: {error}", file=sys.stderr)
        return 2
    except UnreadableCsv as error:
        print(f"error: cannot read {args.csv}: {error}\nNothing was awarded.", file=sys.stderr)
        return 2
    if not rows:
        print("error: the CSV file has no rows to award", file=sys.stderr)
        return 2
    total, created = len(rows), 0
    try:
        with transaction.atomic():
            for start in range(0, total, AWARD_CHUNK):
                chunk = rows[start : start + AWARD_CHUNK]
                try:
                    created += len(
                        assertions_award(
                            badge_class=badge_class,
                            awards=[award for _, award in chunk],
                            actor=actor,
                            notify=args.notify,
                        )
                    )
                except ValidationError as error:
                    for field, messages in error.message_dict.items():
                        index = re.match(r"assertions\.(\d+)\.", field)
                        line = chunk[int(index[1]) if index else 0][0]
                        for message in messages:
                            print(f"\nerror: line {line}: {message}", file=sys.stderr)
                    raise
                _progress(created, total)
    except ValidationError:
        print("Nothing was awarded.", file=sys.stderr)
        return 2
    except DomainError as error:
        print(f"\nerror: {error.message}\nNothing was awarded.", file=sys.stderr)
        return 2
    print(f"Awarded {badge_class.name} to {created} recipient(s).")
    return 0


# --- issuer signing ----------------------------------------------------------------------


def cmd_signing(args: argparse.Namespace) -> int:
    """Turn signed (JWS) verification on or off for an issuer, or rotate its key."""
    setup_django()
    from laurels.issuing.models import Issuer
    from laurels.openbadges import services

    issuer = Issuer.objects.filter(entity_id=args.issuer).first()
    if issuer is None:
        print(f"error: no issuer {args.issuer}", file=sys.stderr)
        return 2
    if args.action == "disable":
        services.issuer_signing_disable(issuer=issuer)
        print(f"{issuer.name} is back to hosted verification; old keys stay published.")
        return 0
    change = (
        services.issuer_signing_rotate
        if args.action == "rotate"
        else services.issuer_signing_enable
    )
    key = change(issuer=issuer)
    from laurels.openbadges.documents import key_url

    print(f"{issuer.name} signs its assertions with key {key_url(key, issuer)}")
    return 0


# --- encryption keys -----------------------------------------------------------------------


def cmd_keys(args: argparse.Namespace) -> int:
    """Make a new encryption key, or re-encrypt every stored secret with the newest one."""
    if args.keys_command == "generate":
        from laurels.core.secrets import new_encryption_key

        print(new_encryption_key())
        return 0
    setup_django()
    from laurels.lti.services import secrets_reencrypt as lti_secrets_reencrypt
    from laurels.openbadges.services import signing_keys_reencrypt

    count = signing_keys_reencrypt()  # SecretUnreadable: a configuration error, exit 2
    lti_count = lti_secrets_reencrypt()
    print(
        f"Re-encrypted {count} signing key(s) and {lti_count} LTI key(s) and secret(s) with "
        "the first of LAURELS_ENCRYPTION_KEYS; the other keys may now be removed."
    )
    return 0


# --- LTI -----------------------------------------------------------------------------------


def cmd_lti(args: argparse.Namespace) -> int:
    """Rotate the platform key that signs LTI launches."""
    setup_django()
    from laurels.lti.services import platform_key_rotate

    key = platform_key_rotate()
    print(f"LTI launches are now signed with key {key.kid}; the previous key stays published.")
    return 0


# --- backpack ----------------------------------------------------------------------------


def cmd_backpack_reverify(args: argparse.Namespace) -> int:
    """Check every imported badge again (the daily job's service, on demand)."""
    setup_django()
    from laurels.backpack.importing import imported_badges_reverify

    def progress(done: int, total: int) -> None:
        print(f"\rRe-verified {done}/{total}", end="", file=sys.stderr, flush=True)

    found = imported_badges_reverify(progress=progress)
    print(file=sys.stderr)
    counts = ", ".join(
        f"{count} {outcome.value}"
        for outcome, count in sorted(found.items(), key=lambda item: item[0].value)
    )
    print(f"Re-verified {found.total()} imported badge(s): {counts or 'none'}.")
    return 0


# --- jobs --------------------------------------------------------------------------------


def cmd_jobs(args: argparse.Namespace) -> int:
    setup_django()
    from laurels.jobs import runner

    if args.jobs_command == "loop":
        runner.run_forever(parent_pid=args.parent)
        return 0
    ran, drained = runner.run_once()
    print(f"Ran: {', '.join(ran) if ran else 'nothing was due'}")
    print(f"Queued tasks run: {drained['tasks']}; mails sent: {drained['mails']}")
    return 0


# --- import-badgr ----------------------------------------------------------------------------


def cmd_import_badgr(args: argparse.Namespace) -> int:
    """Bring a Badgr server's data over (docs/moving-from-badgr.md); run it again to bring
    what is new or changed."""
    setup_django()
    from pathlib import Path

    from django.conf import settings

    from laurels.badgr.readers import SourceError, open_source
    from laurels.badgr.services import ImportOptions, badgr_import

    origin = settings.LAURELS_BADGR_ORIGIN
    if problem := _import_origin_problem(args.origin, origin):
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.media and not Path(args.media).is_dir():
        print(f"error: --media {args.media} is not a folder", file=sys.stderr)
        return 2
    options = ImportOptions(
        origin=origin.rstrip("/"),
        media_dir=Path(args.media) if args.media else None,
        fetch_images=args.fetch_images,
        dry_run=args.dry_run,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    try:
        source = open_source(database_url=args.database_url, dumpdata=args.dumpdata)
    except SourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        report = badgr_import(source, options)
    except (SourceError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        source.close()
    _print_import_report(report, dry_run=args.dry_run)
    return 0


def _import_origin_problem(given: str | None, configured: str | None) -> str | None:
    """Why the import must not run with these origins, if it must not. The awards it
    brings over get ids on the old server's origin, which only LAURELS_BADGR_ORIGIN lets
    in (ALLOWED_HOSTS, the old host's routes): ids on any other host would be served by
    nobody. So the setting is required, and `--origin` may only repeat it."""
    if not configured:
        return (
            "set LAURELS_BADGR_ORIGIN to the old server's public origin (the host that "
            "will serve the awards brought over) before importing"
        )
    if given and given.rstrip("/") != configured.rstrip("/"):
        return (
            f"--origin {given} is not LAURELS_BADGR_ORIGIN ({configured}): the awards' ids "
            "must be on the origin this server serves; leave --origin out"
        )
    return None


def _print_import_report(report, *, dry_run: bool) -> None:
    print("Dry run: nothing was written." if dry_run else "Import finished.")
    for kind, summary in report.kinds.items():
        print(
            f"  {kind}: {summary.imported} imported, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, {len(summary.refused)} refused"
        )
        for refusal in summary.refused:
            print(f"    refused {refusal}")
    for warning in report.warnings:
        print(f"  note: {warning}")
    if report.app_secrets:
        print("New client secrets (shown this once; give each to its app's owner):")
        for name, client_id, secret in report.app_secrets:
            print(f"  {name}  client_id={client_id}  client_secret={secret}")


def add_import_badgr_command(commands) -> None:
    command = commands.add_parser(
        "import-badgr", help="bring a Badgr server's users, issuers, badges and apps over"
    )
    where = command.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--database-url", metavar="URL", help="Badgr's database: postgres://... or mysql://..."
    )
    where.add_argument("--dumpdata", metavar="FILE", help="a `manage.py dumpdata` JSON export")
    command.add_argument("--media", metavar="DIR", help="a copy of Badgr's MEDIA_ROOT (images)")
    command.add_argument(
        "--fetch-images",
        action="store_true",
        help="fetch images missing from --media from the old server's public URLs",
    )
    command.add_argument(
        "--origin",
        metavar="URL",
        help="the old server's public origin: only as a check, it must be LAURELS_BADGR_ORIGIN",
    )
    command.add_argument(
        "--dry-run", action="store_true", help="count what would happen, write nothing"
    )
    command.set_defaults(handler=cmd_import_badgr)


# --- manage --------------------------------------------------------------------------------


def cmd_manage(args: argparse.Namespace) -> int:
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["laurels manage", *args.django_args])
    return 0


# --- the parser ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="laurels",
        description="Laurels: an Open Badges server and OAuth2 provider for connected apps.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="migrate, collect static files and serve over HTTP (production server)"
    )
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        default=default_workers(),
        help="worker processes (default: one per core)",
    )
    serve.add_argument(
        "--threads",
        type=_positive,
        default=4,
        help="threads per worker for requests that wait on I/O (default 4)",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(handler=cmd_serve)

    createuser = commands.add_parser(
        "createuser", help="create a user whose email address is already verified"
    )
    createuser.add_argument("email")
    createuser.add_argument("--password", help="the password (asked for when left out)")
    createuser.add_argument("--first-name", default="")
    createuser.add_argument("--last-name", default="")
    createuser.add_argument(
        "--admin",
        action="store_true",
        help="make the user a staff member and superuser (admin site)",
    )
    createuser.set_defaults(handler=cmd_createuser)

    check = commands.add_parser(
        "check", help="print the configuration in effect and whether the database is reachable"
    )
    check.add_argument("--deploy", action="store_true", help="also run the deployment checks")
    check.set_defaults(handler=cmd_check)

    add_apps_commands(commands)
    add_import_badgr_command(commands)

    award = commands.add_parser(
        "award", help="award a badge class to every row of a CSV file (all or none)"
    )
    award.add_argument("badge_class", metavar="BADGECLASS_ID", help="the badge class entityId")
    award.add_argument(
        "--csv",
        required=True,
        metavar="FILE",
        help="columns: identity, name, narrative, evidence URL",
    )
    award.add_argument(
        "--as",
        dest="as_user",
        metavar="EMAIL",
        help="record the awards as made by this staff member",
    )
    award.add_argument("--notify", action="store_true", help="email each recipient")
    award.set_defaults(handler=cmd_award)

    signing = commands.add_parser(
        "signing", help="signed (JWS) verification for an issuer: enable, rotate, disable"
    )
    signing.add_argument("action", choices=["enable", "rotate", "disable"])
    signing.add_argument("issuer", metavar="ISSUER_ID", help="the issuer entityId")
    signing.set_defaults(handler=cmd_signing)

    keys = commands.add_parser("keys", help="the keys that encrypt secrets in the database")
    keys_actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    keys_actions.add_parser("generate", help="print a new key for LAURELS_ENCRYPTION_KEYS")
    keys_actions.add_parser(
        "reencrypt", help="re-encrypt every stored secret with the first (newest) key"
    )
    keys.set_defaults(handler=cmd_keys)

    lti = commands.add_parser("lti", help="LTI launch points: the platform's signing key")
    lti_actions = lti.add_subparsers(dest="lti_command", required=True, metavar="ACTION")
    lti_actions.add_parser("rotate-key", help="sign LTI launches with a new key from now on")
    lti.set_defaults(handler=cmd_lti)

    backpack = commands.add_parser("backpack", help="earners' backpacks")
    backpack_actions = backpack.add_subparsers(
        dest="backpack_command", required=True, metavar="ACTION"
    )
    backpack_actions.add_parser(
        "reverify", help="re-check imported badges; mark those since revoked or gone"
    ).set_defaults(handler=cmd_backpack_reverify)

    jobs = commands.add_parser("jobs", help="background jobs: e-mail, queued and periodic jobs")
    jobs_actions = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    jobs_actions.add_parser(
        "run", help="run the periodic jobs that are due and everything queued, once (cron)"
    )
    loop = jobs_actions.add_parser(
        "loop", help="run jobs as they are queued or fall due (laurels serve starts one)"
    )
    loop.add_argument("--parent", type=int, help="stop when this process is gone")
    jobs.set_defaults(handler=cmd_jobs)

    manage = commands.add_parser("manage", help="run any Django management command")
    manage.add_argument("django_args", nargs=argparse.REMAINDER)
    manage.set_defaults(handler=cmd_manage)
    return parser


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        from django.core.exceptions import ImproperlyConfigured

        if isinstance(error, ImproperlyConfigured):
            print(f"configuration error: {error}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
