"""Fixed-window rate limits kept in Django's cache.

The default cache is per process; set REDIS_URL so that every worker and every machine
counts against the same limits (a system check warns when several workers share none).
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import cache


def rate_limit_hit(scope: str, key: str, *, limit: int, window: int) -> tuple[bool, int]:
    """Count one attempt for `key` in `scope`; answer (allowed, seconds until the window ends).

    The key is hashed so that email addresses and client addresses never appear in the
    cache in clear. `cache.add` creates the counter only if absent, and `incr` is atomic
    in both the local-memory and the Redis backend.
    """
    now = int(time.time())
    window_start = now - now % window
    digest = hashlib.sha256(f"{scope}\0{key}".encode()).hexdigest()[:32]
    cache_key = f"ratelimit:{scope}:{window_start}:{digest}"
    cache.add(cache_key, 0, timeout=window + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr: this attempt opens a new window
        cache.add(cache_key, 1, timeout=window + 1)
        count = 1
    return count <= limit, window_start + window - now
