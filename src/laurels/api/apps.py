from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "laurels.api"
    label = "api"
    verbose_name = "/v2 API"

    def ready(self) -> None:
        from laurels.api.idempotency import idempotency_records_prune
        from laurels.jobs.registry import periodic

        # Hourly: stored answers (recipients' addresses in them) outlive their window by at
        # most an hour, and are never replayed past it (laurels.api.idempotency checks).
        periodic("idempotency-prune", 3600, idempotency_records_prune)
