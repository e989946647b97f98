"""Seed a fresh data dir through Laurels' own services (bulk paths), printing progress.

LAURELS_HOME=... python bench/seed.py --awards 10000 --out seed.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "laurels.settings")
import django

django.setup()

from django.core.management import call_command  # noqa: E402

from laurels.accounts.services import user_create  # noqa: E402
from laurels.api.pagination import encode_cursor  # noqa: E402
from laurels.cli import collect_static_if_needed  # noqa: E402
from laurels.connect import services as connect  # noqa: E402
from laurels.core.images import image_from_upload  # noqa: E402
from laurels.issuing import services as issuing  # noqa: E402
from laurels.issuing.models import Assertion  # noqa: E402
from laurels.jobs.runner import drain  # noqa: E402

CHUNK = 10_000
EARNER = "earner@bench.example.org"
OWNER = "owner@bench.example.org"
PASSWORD = "bench passphrase 2026"
SAMPLE = 15_000  # awards named in seed.json for the scenarios that spread over many
# The cold working set: this many distinct awards, none requested before (from 100k up).
WORKING_SET = 100_000
# Access tokens of the issuer's owner, one for each request of the "new token" scenario.
NEW_TOKENS = 40_000


def png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (256, 256), "gold").save(buffer, format="PNG")
    return buffer.getvalue()


def progress(done: int, total: int, started: float) -> None:
    rate = done / max(time.monotonic() - started, 1e-6)
    print(f"\r  awards {done:>9,}/{total:,}  ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)


def tokens(count: int, *, email: str, scope: str, refresh: bool) -> list[str]:
    """Tokens of `email` on the built-in public client, as the password grant would
    leave them: refresh tokens (each with its access token) for the refresh scenario,
    or access tokens for the scenario where every request brings a new one."""
    import secrets
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone
    from oauth2_provider.models import (
        get_access_token_model,
        get_application_model,
        get_refresh_token_model,
        set_token_value,
    )

    from laurels.accounts.models import User

    user = User.objects.get(email=email)
    application = get_application_model().objects.get(client_id="public")
    raws = []
    with transaction.atomic():
        for _ in range(count):
            access = get_access_token_model()(
                user=user,
                application=application,
                scope=scope,
                expires=timezone.now() + timedelta(hours=10),
            )
            raw = secrets.token_urlsafe(30)
            set_token_value(access, raw)
            access.save()
            if refresh:
                raw = secrets.token_urlsafe(30)
                made = get_refresh_token_model()(
                    user=user, application=application, access_token=access
                )
                set_token_value(made, raw)
                made.save()
            raws.append(raw)
    return raws


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--awards", type=int, default=10_000)
    parser.add_argument("--refresh-tokens", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    connect.builtin_apps_ensure()
    # As `laurels serve` does before its job runner starts: awards' pages name them.
    collect_static_if_needed(verbose=False)
    owner = user_create(email=OWNER, password=PASSWORD, verified=True)
    user_create(email=EARNER, password=PASSWORD, verified=True)
    issuer = issuing.issuer_create(
        actor=owner,
        name="Bench University",
        url="https://bench.example.org",
        email="badges@bench.example.org",
    )
    image = image_from_upload(png())
    badges = [
        issuing.badge_class_create(
            issuer=issuer,
            actor=owner,
            name=f"Bench badge {n}",
            description="For benchmarking.",
            image=image,
            criteria_narrative="Be fast.",
        )
        for n in range(10)
    ]
    started = time.monotonic()
    done = 0
    while done < args.awards:
        size = min(CHUNK, args.awards - done)
        awards = [
            issuing.AwardInput(
                recipient=issuing.Recipient(identity=f"learner{done + n}@bench.example.org")
            )
            for n in range(size)
        ]
        issuing.assertions_award(
            badge_class=badges[(done // CHUNK) % len(badges)], awards=awards, actor=owner
        )
        done += size
        progress(done, args.awards, started)
    print(file=sys.stderr)
    # The earner holds 100 awards, for the backpack scenario.
    issuing.assertions_award(
        badge_class=badges[0],
        actor=owner,
        awards=[
            issuing.AwardInput(recipient=issuing.Recipient(identity=EARNER)) for _ in range(100)
        ],
    )
    # The awards' hosted documents and pages are rendered by queued jobs (openbadges.kept),
    # as the server's runner would after the awards commit.
    rendering = time.monotonic()
    ran = drain("seed")["tasks"]
    print(
        f"  rendered and kept the hosted documents and pages ({ran} jobs) in "
        f"{time.monotonic() - rendering:.1f} s",
        file=sys.stderr,
    )
    ids = list(Assertion.objects.order_by("id").values_list("id", "entity_id"))
    deep_id = ids[len(ids) // 10][0]  # 90% of the way down the newest-first list
    # Spread over the whole list; the cold scenario takes a fresh slice for every pass.
    sample = [entity_id for _, entity_id in ids[:: max(1, len(ids) // SAMPLE)]][:SAMPLE]
    named = set(sample) | {ids[len(ids) // 2][1]}
    # None of these is requested by any other scenario before the cold working-set ones.
    working_set = [e for _, e in ids[:: max(1, len(ids) // WORKING_SET)] if e not in named]
    seed = {
        "issuer": issuer.entity_id,
        "badge_class": badges[0].entity_id,
        "assertion": ids[len(ids) // 2][1],
        "assertion_sample": sample,
        "working_set": working_set[:WORKING_SET] if args.awards >= WORKING_SET else [],
        "badge_class_id_of_award": Assertion.objects.get(entity_id=ids[0][1]).badge_class.entity_id,
        "award": ids[0][1],
        "deep_cursor": encode_cursor(str(deep_id)),
        "awards": args.awards,
        "owner": OWNER,
        "earner": EARNER,
        "password": PASSWORD,
    }
    seed["refresh_tokens"] = tokens(
        args.refresh_tokens, email=EARNER, scope="r:profile r:backpack", refresh=True
    )
    seed["new_tokens"] = tokens(
        NEW_TOKENS if args.refresh_tokens else 0,
        email=OWNER,
        scope="r:profile rw:issuer",
        refresh=False,
    )
    with open(args.out, "w") as out:
        json.dump(seed, out)
    print(f"  seeded {args.awards:,} awards in {time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
