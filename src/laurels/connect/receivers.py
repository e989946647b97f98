"""What `connect` does when something happens to an account (`accounts.signals`).

Connected in `ConnectConfig.ready`; each receiver runs inside the transaction of the
change that sent it, so the account and its tokens change together or not at all.
"""

from __future__ import annotations

from laurels.connect import services


def end_tokens_on_password_change(sender, *, user, keep_access_token_id=None, **kwargs) -> None:
    """A new password ends every token made under the old one, but the caller's own: the
    holder of a stolen token must not outlive the owner's reset or change."""
    services.user_tokens_revoke(
        user=user, except_access_token_id=keep_access_token_id, reason="password_changed"
    )
