from django.db import models


class HealthProbe(models.Model):
    """One row that `/healthz` rewrites now and then: the cheapest proof that the database
    still takes writes (it may answer reads long after its disk is full or read-only)."""

    checked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"health probe at {self.checked_at:%Y-%m-%d %H:%M:%S}"
