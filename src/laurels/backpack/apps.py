from django.apps import AppConfig


class BackpackConfig(AppConfig):
    name = "laurels.backpack"
    label = "backpack"
    verbose_name = "Backpack"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from laurels.backpack.models import ImportedBadge
        from laurels.backpack.receivers import imported_badge_owner_backpack_moves_on

        post_save.connect(imported_badge_owner_backpack_moves_on, sender=ImportedBadge)
        post_delete.connect(imported_badge_owner_backpack_moves_on, sender=ImportedBadge)
        _register_jobs()


def _register_jobs() -> None:
    from laurels.backpack.importing import (
        imported_badges_reverify,
        imported_badges_reverify_queue,
    )
    from laurels.jobs.registry import periodic, task

    # Daily: every imported badge is checked again with its issuer, in queued chunks
    # (laurels.backpack.importing).
    periodic("backpack-reverify", 24 * 3600, imported_badges_reverify_queue)
    task("backpack.reverify", imported_badges_reverify)
