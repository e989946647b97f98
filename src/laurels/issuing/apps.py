from django.apps import AppConfig


class IssuingConfig(AppConfig):
    name = "laurels.issuing"
    label = "issuing"
    verbose_name = "Issuing"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

        from laurels.accounts.models import User
        from laurels.issuing import receivers
        from laurels.issuing.models import Assertion, BadgeClass, Issuer

        # Kept answers that show these rows are stored under versions they move on.
        pre_save.connect(receivers.assertion_recipient_remember, sender=Assertion)
        post_save.connect(receivers.assertion_changed, sender=Assertion)
        post_delete.connect(receivers.assertion_changed, sender=Assertion)
        for model in (BadgeClass, Issuer):
            pre_save.connect(receivers.catalog_fields_remember, sender=model)
        post_save.connect(receivers.catalog_entry_changed, sender=BadgeClass)
        post_save.connect(receivers.catalog_entry_changed, sender=Issuer)
        pre_delete.connect(receivers.creator_leaving, sender=User)
        _register_jobs()


def _register_jobs() -> None:
    from laurels.issuing.services import (
        AWARD_BATCH_TASK,
        award_batch_gave_up,
        award_batch_run,
        award_batches_prune,
    )
    from laurels.jobs.registry import periodic, task

    # A CSV batch of awards (web/award_views.py), in chunks that each commit with the
    # batch's progress: run again, it goes on where it stopped.
    task(AWARD_BATCH_TASK, award_batch_run, timeout_seconds=30 * 60, gave_up=award_batch_gave_up)
    periodic("award-batches-prune", 24 * 3600, award_batches_prune)
