"""Events about accounts that apps above `accounts` act on.

`accounts` sits below every domain app (docs/architecture.md): `connect` (tokens)
depends on it, never the other way round. So when something here changes what those
apps hold, `accounts` sends one of these signals inside the transaction of the change,
and each app's receivers (connected in its `AppConfig.ready`; `accounts` itself tells the
owner by email) do their part in that same transaction: either all of it happens or
none. `login_page_shown` is no change: it lets a higher app add to the log-in page.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent with `user` and `keep_access_token_id` (the id of the access token the change was
# made with, which stays valid with its refresh token; None when there was none) whenever
# a saved account gets a new password, by whatever path (`User.save`). Every other token
# of the user must end. Sessions end by themselves: Django derives each session's hash
# from the password hash, and the session the change was made in is renewed by its view
# with `update_session_auth_hash`.
password_changed = Signal()

# Sent with `response` and `next_url` (where a successful log-in goes on to) each time the
# log-in page is shown. A receiver may open the page's policy in place: `connect` lets
# the form end at an app already approved when `next_url` is an authorization request.
login_page_shown = Signal()

# Sent with `user` and `pseudonym` (`accounts.services.account_pseudonym`) inside the
# transaction that deletes an account (`accounts.services.account_delete`, the admin,
# `laurels users delete`), before the user's row goes. Each app above removes or detaches
# what it holds of the person (issuing: staff places and invitations; backpack:
# collections and imported badges; connect: tokens, consents, the audit trail's name for
# them). A receiver refuses the whole deletion by raising
# `accounts.services.AccountDeletionBlocked` (issuing does, for the last owner of an
# issuer): nothing is deleted then.
account_deleting = Signal()

# Sent with `user`; each receiver answers a list of `accounts.services.DeletionBlocker`:
# what stops the account from being deleted now, for the deletion page to show before
# anyone asks. A receiver of `account_deleting` checks the same again, under its locks.
account_deletion_blockers = Signal()

# Sent with `user`, `change` ("turned_on", "turned_off", "recovery_codes_renewed",
# "reset") and `actor` (who made it: the owner, or the admin who reset it) inside the
# transaction of a change to the account's two-factor log-in (`accounts.services`).
# `connect` records it in the audit trail.
two_factor_changed = Signal()

# Sent with `user`; each receiver answers True when an app above `accounts` gives the
# user a role for which LAURELS_TWO_FACTOR_REQUIRED=staff asks for two-factor log-in
# (issuer staff), so that `accounts.two_factor` need not know what those roles are.
two_factor_role_asked = Signal()
