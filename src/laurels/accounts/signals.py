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
