from django.apps import AppConfig


class ConnectConfig(AppConfig):
    name = "laurels.connect"
    label = "connect"
    verbose_name = "Connected apps"

    def ready(self) -> None:
        from laurels.accounts.signals import login_page_shown, password_changed
        from laurels.connect.receivers import (
            ISSUING_AUDIT_KINDS,
            audit_issuing_event,
            end_tokens_on_password_change,
            open_login_page_to_app,
        )

        password_changed.connect(end_tokens_on_password_change, dispatch_uid="connect-tokens")
        login_page_shown.connect(open_login_page_to_app, dispatch_uid="connect-login-page")
        _register_jobs()
        for signal, kind in ISSUING_AUDIT_KINDS.items():
            signal.connect(audit_issuing_event, dispatch_uid=f"connect-audit-{kind}")


def _register_jobs() -> None:
    from laurels.connect.services import oauth_records_prune
    from laurels.jobs.registry import periodic

    # Daily: expired and revoked OAuth tokens, refresh-token families and spent codes that
    # nothing can use any more (what each keeps, and why: connect.services).
    periodic("oauth-prune", 24 * 3600, oauth_records_prune)
