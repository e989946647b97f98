"""What `issuing` does when something happens to an account (`accounts.signals`).

Connected in `IssuingConfig.ready`; each receiver runs inside the transaction of the
change that sent it.
"""

from __future__ import annotations

from laurels.issuing import services


def accept_staff_invitations(sender, *, email_address, **kwargs) -> None:
    """Proving an address accepts the staff invitations sent to it."""
    services.staff_invitations_accept(user=email_address.user, email=email_address.email)
