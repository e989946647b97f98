"""Fixed-window rate limits that every worker and every machine count together.

A limit allows `limit` hits of one key (an account, a client address, an app) in each
window of `window` seconds, windows starting at multiples of `window` in Unix time.
Counters live in the database (`RateLimitCounter`, one row per key and window, raised by
one atomic upsert) or, when `REDIS_URL` is set, in Redis (INCRBY and EXPIRE in one
MULTI). Either is shared, unlike Django's default per-process cache: with two workers
and a limit of ten, the eleventh attempt is refused whichever worker answers it.

Keys are stored as keyed digests (HMAC with SECRET_KEY), never as the email address or
client address they count, and expired windows are deleted when new ones open.

Counting must happen outside any transaction that may roll back or that holds locks
across other work: call these functions before a service opens its own.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils.crypto import salted_hmac
from redis import RedisError

from laurels.core.errors import RateLimited

logger = logging.getLogger(__name__)

DIGEST_SALT = "laurels.core.ratelimit"
# When the shared store cannot be reached: how long a refused client is asked to wait, and
# how long one Redis connection or command may take before the store counts as down.
STORE_DOWN_RETRY_AFTER = 30
REDIS_TIMEOUT_SECONDS = 2
# A per-address limit counts an IPv6 client by its /64: one host usually holds all of it.
IPV6_CLIENT_PREFIX = 64


@dataclass(frozen=True)
class Limit:
    """`limit` hits of `key` per `window` seconds, in `scope` (the limit's name)."""

    scope: str
    key: str
    limit: int
    window: int


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends, at least 1
    count: int
    store_down: bool = False  # refused because the shared store could not count


class LimitsUnavailable(RateLimited):
    """The shared store could not count this request, so it is refused (fail closed):
    503 with Retry-After wherever RateLimited is answered."""

    status = 503


def key_digest(scope: str, key: str) -> str:
    return salted_hmac(DIGEST_SALT, f"{scope}\0{key}", algorithm="sha256").hexdigest()


def address_key(address: str | None) -> str:
    """The key of a client address for per-address limits: IPv4 as it is, IPv6 by its /64
    (an attacker with one IPv6 host has 2**64 addresses to rotate through)."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(parsed)


class CounterStore(Protocol):
    def add(self, scope: str, digest: str, window_start: int, window: int, amount: int) -> int:
        """Add `amount` to the counter of this key and window; its new total."""

    def current(self, scope: str, digest: str, window_start: int) -> int:
        """The counter of this key and window; 0 when there is none."""

    def take_back(self, scope: str, digest: str, window_start: int, amount: int) -> None:
        """Subtract `amount` from the counter of this key and window if it holds as much;
        never makes a counter (one pruned meanwhile stays gone, none goes below zero)."""


class DatabaseCounters:
    """Counters in the default database: `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`,
    one statement on SQLite (3.35+) and PostgreSQL, so no lock outlives it."""

    def __init__(self) -> None:
        from laurels.core.models import RateLimitCounter

        table = connection.ops.quote_name(RateLimitCounter._meta.db_table)
        self.upsert = (
            f"INSERT INTO {table} (scope, key_digest, window_start, expires_at, hits) "  # noqa: S608 (our SQL; values are parameters)
            "VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (scope, key_digest, window_start) "
            f"DO UPDATE SET hits = {table}.hits + excluded.hits "
            "RETURNING hits"
        )
        self.prune = f"DELETE FROM {table} WHERE expires_at < %s"  # noqa: S608 (our SQL)
        where = "WHERE scope = %s AND key_digest = %s AND window_start = %s"
        self.read = f"SELECT hits FROM {table} {where}"  # noqa: S608 (our SQL)
        self.subtract = f"UPDATE {table} SET hits = hits - %s {where} AND hits >= %s"  # noqa: S608 (our SQL)

    def add(self, scope: str, digest: str, window_start: int, window: int, amount: int) -> int:
        expires_at = window_start + window
        with connection.cursor() as cursor:
            cursor.execute(self.upsert, [scope, digest, window_start, expires_at, amount])
            total = cursor.fetchone()[0]
            if total == amount:  # this key opened a window: clear the ones that ended
                cursor.execute(self.prune, [int(time.time())])
        return total

    def current(self, scope: str, digest: str, window_start: int) -> int:
        with connection.cursor() as cursor:
            cursor.execute(self.read, [scope, digest, window_start])
            row = cursor.fetchone()
        return row[0] if row else 0

    def take_back(self, scope: str, digest: str, window_start: int, amount: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(self.subtract, [amount, scope, digest, window_start, amount])


class RedisCounters:
    """Counters in Redis, which expire with their window."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )

    def add(self, scope: str, digest: str, window_start: int, window: int, amount: int) -> int:
        name = f"laurels:ratelimit:{scope}:{window_start}:{digest}"
        pipeline = self.client.pipeline(transaction=True)
        pipeline.incrby(name, amount)
        pipeline.expire(name, window + 1)
        total, _ = pipeline.execute()
        return int(total)

    # DECRBY only on a key that exists and holds enough: one that expired stays gone.
    TAKE_BACK = (
        "local hits = tonumber(redis.call('GET', KEYS[1]) or '0') "
        "if hits >= tonumber(ARGV[1]) then redis.call('DECRBY', KEYS[1], ARGV[1]) end"
    )

    def current(self, scope: str, digest: str, window_start: int) -> int:
        return int(self.client.get(f"laurels:ratelimit:{scope}:{window_start}:{digest}") or 0)

    def take_back(self, scope: str, digest: str, window_start: int, amount: int) -> None:
        name = f"laurels:ratelimit:{scope}:{window_start}:{digest}"
        self.client.eval(self.TAKE_BACK, 1, name, amount)


@functools.lru_cache(maxsize=2)
def _store_for(redis_url: str) -> CounterStore:
    return RedisCounters(redis_url) if redis_url else DatabaseCounters()


def shared_counters() -> CounterStore:
    return _store_for(settings.REDIS_URL)


def _window(window: int) -> tuple[int, int]:
    """(start of the current window, seconds until it ends)."""
    now = int(time.time())
    start = now - now % window
    return start, start + window - now


def rate_limit_hit(limit: Limit, amount: int = 1) -> Verdict:
    """Count `amount` hits against `limit` in the shared store; allowed while the total
    is within the limit."""
    start, retry_after = _window(limit.window)
    count = shared_counters().add(
        limit.scope, key_digest(limit.scope, limit.key), start, limit.window, amount
    )
    return Verdict(count <= limit.limit, retry_after, count)


def _store_down(error: Exception, limit: Limit) -> Verdict:
    logger.error("The rate-limit store failed (%s); refused %s", error, limit.scope)
    return Verdict(False, STORE_DOWN_RETRY_AFTER, 0, store_down=True)


def within_limits(*limits: Limit) -> Verdict:
    """Count one hit against each limit in turn, stopping at the first one exceeded
    (the later ones are not counted then); its verdict, or the last allowed one.

    These limits guard passwords, inboxes and registrations, so when the shared store
    cannot count, the verdict is a refusal (`store_down`), logged: failing open would
    lift the limit on password guessing for as long as an attacker keeps Redis down. (The
    /v2 quota, BatchedLimiter below, protects capacity instead and fails open.)"""
    verdict = Verdict(True, 1, 0)
    for limit in limits:
        try:
            verdict = rate_limit_hit(limit)
        except (DatabaseError, RedisError) as error:
            return _store_down(error, limit)
        if not verdict.allowed:
            break
    return verdict


def wait_text(seconds: int) -> str:
    """'45 seconds', '1 minute', '15 minutes', for messages that say when to retry."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def enforce_limits(*limits: Limit, message: str) -> None:
    """Count one hit against each limit; raise RateLimited at the first exceeded, with
    `message` (in which `{wait}` says how long to wait) and its Retry-After."""
    raise_if_refused(within_limits(*limits), message=message)


def raise_if_refused(verdict: Verdict, *, message: str) -> None:
    """RateLimited with `message` (`{wait}`: how long to wait) and Retry-After when the
    verdict refuses; LimitsUnavailable (503) when the store could not count."""
    if verdict.store_down:
        raise LimitsUnavailable(
            f"This is briefly unavailable. Try again in {wait_text(verdict.retry_after)}.",
            retry_after=verdict.retry_after,
        )
    if not verdict.allowed:
        raise RateLimited(
            message.format(wait=wait_text(verdict.retry_after)), retry_after=verdict.retry_after
        )


# --- Attempts that count only when they fail (passwords) ----------------------------------


def limits_reached(*limits: Limit) -> Verdict:
    """Count nothing: refused at the first limit whose window is already used up, else
    allowed. The check before an attempt that counts only if it fails (`attempt_count`
    counts it, exactly), so that a refusal can be answered before any work is done."""
    for limit in limits:
        start, retry_after = _window(limit.window)
        try:
            count = shared_counters().current(
                limit.scope, key_digest(limit.scope, limit.key), start
            )
        except (DatabaseError, RedisError) as error:
            return _store_down(error, limit)
        if count >= limit.limit:
            return Verdict(False, retry_after, count)
    return Verdict(True, 1, 0)


@dataclass(frozen=True)
class CountedAttempt:
    """An attempt counted ahead of its outcome (`attempt_count`), which `take_back`
    uncounts when it succeeds."""

    verdict: Verdict
    counted: tuple[tuple[Limit, int], ...] = ()  # each limit, and the window counted in

    @property
    def allowed(self) -> bool:
        return self.verdict.allowed

    def take_back(self) -> None:
        """Uncount the attempt, in the windows it was counted in."""
        for limit, start in self.counted:
            try:
                shared_counters().take_back(
                    limit.scope, key_digest(limit.scope, limit.key), start, 1
                )
            except (DatabaseError, RedisError):  # it then counts, which fails safe
                logger.warning("Could not take back a hit of %s", limit.scope, exc_info=True)


def attempt_count(*limits: Limit) -> CountedAttempt:
    """Count one attempt against each limit in turn, each with one atomic addition, so
    that attempts in flight at once on any worker never get past a limit; the caller
    takes the attempt back if it succeeds (`CountedAttempt.take_back`), so only failures
    count. At the first limit exceeded every hit of the attempt is taken back and it is
    refused: an attempt refused by one limit counts against none (or a guesser refused
    by their own address's limit would still use up the account's). Fails closed."""
    counted: list[tuple[Limit, int]] = []
    for limit in limits:
        start, retry_after = _window(limit.window)
        try:
            count = shared_counters().add(
                limit.scope, key_digest(limit.scope, limit.key), start, limit.window, 1
            )
        except (DatabaseError, RedisError) as error:
            CountedAttempt(Verdict(False, 1, 0), tuple(counted)).take_back()
            return CountedAttempt(_store_down(error, limit))
        counted.append((limit, start))
        verdict = Verdict(count <= limit.limit, retry_after, count)
        if not verdict.allowed:
            CountedAttempt(verdict, tuple(counted)).take_back()
            return CountedAttempt(verdict)
    return CountedAttempt(Verdict(True, 1, 0), tuple(counted))


# --- Counted in batches, for limits checked on every request ------------------------------


def batch_size_for(limit: int) -> int:
    """Hits one process counts before it adds them to the shared store: 1% of the limit,
    between 1 (every hit, for limits under 200) and 100."""
    return max(1, min(100, limit // 100))


@dataclass
class _LocalWindow:
    start: int
    ends: int
    known: int = 0  # the shared total as of this process's last addition
    pending: int = 0  # hits counted here and not yet added
    refused: bool = False


class BatchedLimiter:
    """A limit for hot paths (the /v2 quota): each process counts hits in memory and adds
    them to the shared store `batch_size_for(limit)` at a time, so a request costs a
    database write only once per batch.

    The bound: a process refuses once its own view (the shared total at its last
    addition, plus its pending hits) is over the limit, so each process admits at most
    `batch - 1` hits past the limit before it learns of the others' (1% of the limit,
    at most 99, per process per window; none for limits under 200). Hits still pending
    when a window ends are not added: at most `batch - 1` per process go uncounted.
    When the shared store fails, the hits stay pending for the next batch and the request
    is judged on this process's view: a quota protects the server's capacity, and must
    not itself take the API down.
    """

    MAX_WINDOWS = 1024  # past this many keys, windows that ended are forgotten

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], _LocalWindow] = {}
        self._lock = threading.Lock()

    def hit(self, limit: Limit) -> Verdict:
        start, retry_after = _window(limit.window)
        with self._lock:
            current = self._current(limit, start)
            if current.refused:
                return Verdict(False, retry_after, current.known + current.pending)
            current.pending += 1
            to_add = current.pending if current.pending >= batch_size_for(limit.limit) else 0
            current.pending -= to_add
        total = self._add_to_shared(limit, start, to_add) if to_add else None
        with self._lock:
            if to_add and total is None:
                current.pending += to_add
            elif total is not None:
                current.known = max(current.known, total)
            count = current.known + current.pending
            if count > limit.limit:
                current.refused = True
        return Verdict(count <= limit.limit, retry_after, count)

    @staticmethod
    def _add_to_shared(limit: Limit, start: int, amount: int) -> int | None:
        """The new shared total, or None when the store could not be reached."""
        try:
            return shared_counters().add(
                limit.scope, key_digest(limit.scope, limit.key), start, limit.window, amount
            )
        except (DatabaseError, RedisError):
            logger.warning("Could not add to the shared count of %s", limit.scope, exc_info=True)
            return None

    def _current(self, limit: Limit, start: int) -> _LocalWindow:
        """This process's count of `limit` in the window that began at `start` (lock held)."""
        name = (limit.scope, limit.key)
        current = self._windows.get(name)
        if current is None or current.start != start:
            if len(self._windows) >= self.MAX_WINDOWS:
                now = time.time()
                for stale in [k for k, w in self._windows.items() if w.ends <= now]:
                    del self._windows[stale]
            current = self._windows[name] = _LocalWindow(start, start + limit.window)
        return current
