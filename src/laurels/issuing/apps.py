from django.apps import AppConfig


class IssuingConfig(AppConfig):
    name = "laurels.issuing"
    label = "issuing"
    verbose_name = "Issuing"

    def ready(self) -> None:
        from laurels.accounts.signals import email_address_verified
        from laurels.issuing.receivers import accept_staff_invitations

        email_address_verified.connect(accept_staff_invitations, dispatch_uid="issuing-staff")
