"""Events in issuing that apps above it act on (connect records them in its audit trail).

`issuing` does not import the apps that depend on it. So each service that makes one of
these changes sends the signal inside the change's own transaction, and the receivers
(connected in their `AppConfig.ready`) write their rows in that same transaction: the
change and its audit row commit together or not at all.

Every signal is sent with `actor` (the user who made the change, None for the command
line or a job) and `detail` (a JSON-ready dict naming what changed by entityId).
"""

from __future__ import annotations

from django.dispatch import Signal

# Awards were made (one, or a batch inserted in bulk: no post_save is sent for them);
# detail: issuer, badge class, and the awards' entityIds ("assertions").
assertions_awarded = Signal()
# An award was revoked; detail: issuer, badge class, assertion, reason.
assertion_revoked = Signal()
# Who is on an issuer's staff, with which role, or who is invited, changed; detail: the
# issuer, the staff as it now is, and the addresses invited.
issuer_staff_changed = Signal()
# An issuer was deleted (it had made no awards); detail: the issuer and its name.
issuer_deleted = Signal()
# A badge class was deleted (it had no awards); detail: issuer, badge class, name.
badge_class_deleted = Signal()
# An issuer was marked verified, or its verification was removed (by an administrator,
# or by a change of its name or website); detail: the issuer and how it is verified now
# ("admin", "domain", or "" when no longer).
issuer_verification_changed = Signal()
# An issuer's signing key was made, rotated or retired; detail: the issuer, the change
# and the key's entityId (openbadges sends it: keys live there).
signing_key_changed = Signal()
