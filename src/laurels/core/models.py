from django.db import models


class HealthProbe(models.Model):
    """One row that `/healthz` rewrites now and then: the cheapest proof that the database
    still takes writes (it may answer reads long after its disk is full or read-only)."""

    checked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"health probe at {self.checked_at:%Y-%m-%d %H:%M:%S}"


class RateLimitCounter(models.Model):
    """How many times one key was counted in one fixed window of one limit
    (`laurels.core.ratelimit`): the counters every worker and machine share when there
    is no Redis. The key is a keyed digest, so no address appears here in clear."""

    scope = models.CharField(max_length=64)
    key_digest = models.CharField(max_length=64)
    window_start = models.BigIntegerField(help_text="Unix time the window began.")
    expires_at = models.BigIntegerField(db_index=True, help_text="Unix time the window ends.")
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key_digest", "window_start"], name="ratelimit_counter_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key_digest[:8]}… {self.hits} since {self.window_start}"


class Version(models.Model):
    """A counter that every change to what it names moves on, in the change's own
    transaction (`laurels.core.versions`): kept answers (polled /v2 lists, hosted
    documents) are stored under the versions read before they were made, so a change
    makes them unreachable at once, in every process, without clocks or invalidation."""

    # Text: a name holds what it is owned by, a recipient's address among them.
    name = models.TextField(unique=True)
    n = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} at {self.n}"
