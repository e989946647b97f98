"""What `connect` does when something happens to an account (`accounts.signals`) or in
issuing (`issuing.signals`), and what it adds to the log-in page `accounts` shows.

Connected in `ConnectConfig.ready`; each receiver runs inside the transaction of the
change that sent it, so the change and what connect does about it (ended tokens, an
audit row) commit together or not at all.
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from laurels.accounts.models import EmailAddress, User
from laurels.accounts.services import account_pseudonym, values_pseudonymised
from laurels.accounts.signals import account_deleting, two_factor_changed
from laurels.connect import services
from laurels.connect.models import AppConsent, Application, AuditEvent
from laurels.connect.views import allow_redirect_after_login
from laurels.issuing import signals as issuing_signals

# The audit kind each issuing event is recorded as.
ISSUING_AUDIT_KINDS = {
    issuing_signals.assertion_revoked: AuditEvent.Kind.AWARD_REVOKED,
    issuing_signals.issuer_staff_changed: AuditEvent.Kind.STAFF_CHANGED,
    issuing_signals.issuer_deleted: AuditEvent.Kind.ISSUER_DELETED,
    issuing_signals.badge_class_deleted: AuditEvent.Kind.BADGE_CLASS_DELETED,
    issuing_signals.signing_key_changed: AuditEvent.Kind.SIGNING_KEY_CHANGED,
    issuing_signals.issuer_verification_changed: AuditEvent.Kind.ISSUER_VERIFICATION_CHANGED,
}


def end_tokens_on_password_change(sender, *, user, keep_access_token_id=None, **kwargs) -> None:
    """A new password ends every token made under the old one, but the caller's own: the
    holder of a stolen token must not outlive the owner's reset or change."""
    services.user_tokens_revoke(
        user=user, except_access_token_id=keep_access_token_id, reason="password_changed"
    )


def audit_issuing_event(sender, *, signal, actor, detail, **kwargs) -> None:
    """Record an issuing change in the audit trail, in the change's own transaction."""
    services.audit_record(ISSUING_AUDIT_KINDS[signal], user=actor, detail=detail)


def open_login_page_to_app(sender, *, response, next_url: str, **kwargs) -> None:
    """The log-in page (`accounts`) may end at an app already approved: its form-action
    opens to that app's redirect URI (`allow_redirect_after_login`)."""
    allow_redirect_after_login(response, next_url)


# --- an account being deleted (`accounts.signals`; connected here, when `ConnectConfig.ready`
# imports this module) ---------------------------------------------------------------------


@receiver(account_deleting, dispatch_uid="connect-account-deleting")
def account_connections_end(sender, *, user: User, pseudonym: str, **kwargs) -> None:
    """Everything the person let apps do ends: every token and grant (personal tokens
    too, which are access tokens), their consents; apps they own stay registered, for the
    people connected to them, without an owner (tokens acting as the owner end). The
    audit trail keeps its rows, with the pseudonym where they named the person
    (`audit_rows_pseudonymise`), and records the deletion."""
    services.user_tokens_revoke(user=user, reason="account_deleted")
    AppConsent.objects.filter(user=user).delete()
    for application in Application.objects.filter(user=user).order_by("pk"):
        services.application_set_acts_as_owner(
            application=application, acts_as_owner=False, owner=None, actor=None
        )
    _audit_details_pseudonymise(user, pseudonym)
    services.audit_record(AuditEvent.Kind.ACCOUNT_DELETED, user=user, detail={"account": pseudonym})


def _audit_details_pseudonymise(user: User, pseudonym: str) -> None:
    """Audit rows about others may name the person in their detail: by entityId (a staff
    list) or by an address they held verified (an invitation). Values equal to either
    (ignoring case, inside lists too) become the pseudonym, never a part of a longer one:
    somebody else's nada@example.org stays as it is. An address only claimed is left
    alone: it may be somebody else's. The database narrows the rows by substring first."""
    verified = EmailAddress.objects.filter(user=user, verified=True)
    names = [user.entity_id, *verified.values_list("email", flat=True)]
    naming = reduce(or_, (Q(detail_text__icontains=name) for name in names))
    rows = AuditEvent.objects.annotate(detail_text=Cast("detail", TextField())).filter(naming)
    for pk, detail in rows.values_list("pk", "detail"):
        scrubbed = values_pseudonymised(detail, names, pseudonym)
        if scrubbed != detail:
            AuditEvent.objects.filter(pk=pk).update(detail=scrubbed)


@receiver(pre_delete, sender=User, dispatch_uid="connect-audit-pseudonym")
def audit_rows_pseudonymise(sender, instance: User, **kwargs) -> None:
    """A deleted account's audit rows keep its pseudonym instead of the person (their
    `user` would only be set null): whatever deleted it, and after every receiver of
    `account_deleting` wrote its rows."""
    AuditEvent.objects.filter(user_id=instance.pk).update(
        user=None, user_pseudonym=account_pseudonym(instance.pk)
    )


@receiver(two_factor_changed, dispatch_uid="connect-audit-two-factor")
def audit_two_factor_change(sender, *, user: User, change: str, actor: User, **kwargs) -> None:
    """Turning two-factor log-in on or off, new recovery codes, an admin's reset: in the
    audit trail, by whoever made the change, in its transaction."""
    services.audit_record(
        AuditEvent.Kind.TWO_FACTOR_CHANGED,
        user=actor,
        detail={"change": change, "account": user.entity_id},
    )


@receiver(two_factor_changed, dispatch_uid="connect-tokens-two-factor-on")
def end_tokens_on_two_factor_on(sender, *, user: User, change: str, **kwargs) -> None:
    """Turning two-factor log-in on ends every token got with the password alone, as a
    new password does (`end_tokens_on_password_change`), in the change's transaction."""
    if change == "turned_on":
        services.user_tokens_revoke(user=user, reason="two_factor_on")
