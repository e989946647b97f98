"""How passwords are stored: Argon2id, through Django's hasher and argon2-cffi.

OWASP's Password Storage Cheat Sheet asks for Argon2id with at least 19 MiB of memory,
2 iterations and 1 lane. Laurels uses 32 MiB, 2 iterations, 1 lane: memory-hard (each
guess needs 32 MiB, which is what makes GPUs and ASICs expensive), and on one core of
the reference machine about 55 ms of CPU per log-in, against 285-345 ms for PBKDF2 at
1,000,000 iterations (docs/accounts.md has the measured log-in rates). One lane, not
Django's eight: lanes make a single hash finish sooner on an idle machine but cost the
same CPU, and a busy server has more log-ins than cores.

Django's own `Argon2PasswordHasher` (100 MiB, t=2, p=8) costs about as much CPU as the
PBKDF2 it replaces, and ties up 100 MiB per log-in in flight. The algorithm name stays
"argon2", so any Argon2 hash verifies, and one made with other parameters is re-hashed
with these at its owner's next log-in (Django's `must_update`).
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher

ARGON2_MEMORY_KIB = 32 * 1024
ARGON2_ITERATIONS = 2
ARGON2_LANES = 1


class Argon2idPasswordHasher(Argon2PasswordHasher):
    """Django's Argon2 hasher (variant Argon2id) with Laurels' parameters."""

    memory_cost = ARGON2_MEMORY_KIB
    time_cost = ARGON2_ITERATIONS
    parallelism = ARGON2_LANES
