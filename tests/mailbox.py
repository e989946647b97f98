"""The mail the jobs runner delivers, for tests that read what a flow sent."""

from django.core import mail

from laurels.jobs.runner import drain


def delivered() -> list:
    """Deliver the outbox as the jobs runner does once a change commits, and answer
    every message Django's test mail backend has received so far."""
    drain()
    return mail.outbox
