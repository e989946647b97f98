"""The one way Laurels sends e-mail: written to the outbox in the change's own
transaction, delivered by the jobs runner after it commits.

A rolled-back change sends nothing, and a committed one is never lost to a process that
dies between its commit and an on-commit hook: the outbox row commits with it. Delivery
is at least once: a runner killed after the mail server took a message and before it
deleted the row sends it again, with the same Message-ID (made when the row was written),
so the duplicate can be recognised. One SMTP connection carries a whole delivery run.
"""

from __future__ import annotations

import logging
import smtplib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string

from laurels.jobs import services
from laurels.jobs.models import OutboxMail

logger = logging.getLogger(__name__)
# Mails claimed at a time: a runner killed mid-run leaves at most these to their lease.
DELIVERY_CHUNK = 100


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    message_id: str


def message_id() -> str:
    """A Message-ID unique to one mail, on this server's host name."""
    host = urlsplit(settings.LAURELS_BASE_URL).hostname or "localhost"
    return f"<{uuid.uuid4().hex}@{host}>"


def mail_render(to: str, template: str, context: dict) -> Mail:
    """`template` names a pair, `<template>_subject.txt` and `<template>.txt`."""
    context = {**context, "base_url": settings.LAURELS_BASE_URL}
    # One line whatever the names in it hold: a line break in a subject is refused by
    # Django's mail (BadHeaderError) at delivery, where nobody could fix it.
    subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
    body = render_to_string(f"{template}.txt", context)
    return Mail(to=to, subject=subject, body=body, message_id=message_id())


def mail_send(to: str, template: str, context: dict) -> None:
    """Send one templated mail once the caller's transaction commits."""
    services.outbox_add([mail_render(to, template, context)])


def mails_send(mails: Iterable[Mail]) -> int:
    """Send rendered mails (a batch) once the caller's transaction commits."""
    return services.outbox_add(mails)


# --- delivery (the runner) -------------------------------------------------------------------


def _message(row: OutboxMail) -> EmailMessage:
    return EmailMessage(
        row.subject, row.body, None, [row.to], headers={"Message-ID": row.message_id}
    )


def _refused_for_good(error: smtplib.SMTPException) -> bool:
    """Whether the mail server refused this recipient for good: a 5xx answer to RCPT
    TO. Anything else (a 4xx, a refused sender, data or authentication errors) may be the
    server's or our configuration's passing state, and is tried again later: one wrong
    setting must not mark every mail failed."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return False


def _send(connection, message: EmailMessage) -> None:
    """Send over the open connection; once more over a new one if the server had
    closed it (some close after so many messages, or when idle)."""
    try:
        connection.send_messages([message])
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException) as error:
        if getattr(error, "smtp_code", 421) != 421:  # 421: the server is closing
            raise
        connection.close()
        connection.open()
        connection.send_messages([message])


def outbox_deliver(runner: str) -> int:
    """Send every due mail over one connection; how many the mail server took.

    A message the server refuses is kept for a later try (or as failed, when it refused
    the recipient with a 5xx). A connection that breaks, or a server that refuses our
    sender (a configuration the next mail would meet as well), gives the rest of the
    claimed mails back and ends the run (raised: the runner logs it and tries again
    later). The claim is renewed between mails; once it has lapsed on any mail held
    (another runner may have claimed it), the run stops."""
    if not services.outbox_claimable():
        return 0
    connection = get_connection()
    connection.open()
    sent = 0
    lease = settings.LAURELS_JOBS_LEASE_SECONDS
    renew_at = time.monotonic() + lease / 3
    try:
        while batch := services.outbox_claim(runner, DELIVERY_CHUNK):
            for position, row in enumerate(batch):
                if time.monotonic() > renew_at:
                    if not services.outbox_renew(runner, batch[position:]):
                        logger.warning("The claim on mails to send lapsed; stopping this run")
                        return sent
                    renew_at = time.monotonic() + lease / 3
                try:
                    _send(connection, _message(row))
                except (smtplib.SMTPException, OSError) as error:
                    if _for_this_mail(error):
                        logger.warning("The mail server refused %s: %s", row.message_id, error)
                        permanent = _refused_for_good(error)
                        services.outbox_failed(
                            [row], str(error), runner=runner, permanent=permanent
                        )
                        continue
                    services.outbox_failed(batch[position:], str(error), runner=runner)
                    raise
                except Exception as error:  # no mail server could take it (a bad header)
                    logger.exception("Mail %s cannot be sent", row.message_id)
                    services.outbox_failed([row], repr(error), runner=runner, permanent=True)
                    continue
                services.outbox_sent(row, runner)
                sent += 1
    finally:
        connection.close()
    return sent


def _for_this_mail(error: Exception) -> bool:
    """Whether an SMTP error concerns this one message (its recipient, its data), so the
    run goes on with the next; a refused sender or a broken connection would meet every
    mail alike."""
    if isinstance(error, smtplib.SMTPSenderRefused):
        return False
    return isinstance(error, (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException))
