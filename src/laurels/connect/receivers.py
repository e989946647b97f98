"""What `connect` does when something happens to an account (`accounts.signals`) or in
issuing (`issuing.signals`), and what it adds to the log-in page `accounts` shows.

Connected in `ConnectConfig.ready`; each receiver runs inside the transaction of the
change that sent it, so the change and what connect does about it (ended tokens, an
audit row) commit together or not at all.
"""

from __future__ import annotations

from laurels.connect import services
from laurels.connect.models import AuditEvent
from laurels.connect.views import allow_redirect_after_login
from laurels.issuing import signals as issuing_signals

# The audit kind each issuing event is recorded as.
ISSUING_AUDIT_KINDS = {
    issuing_signals.assertion_revoked: AuditEvent.Kind.AWARD_REVOKED,
    issuing_signals.issuer_staff_changed: AuditEvent.Kind.STAFF_CHANGED,
    issuing_signals.issuer_deleted: AuditEvent.Kind.ISSUER_DELETED,
    issuing_signals.badge_class_deleted: AuditEvent.Kind.BADGE_CLASS_DELETED,
    issuing_signals.signing_key_changed: AuditEvent.Kind.SIGNING_KEY_CHANGED,
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
