"""System checks for deployment invariants, reported by `laurels check` and `check --deploy`."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def check_base_url_is_https(app_configs, **kwargs):
    if settings.LAURELS_BASE_URL.startswith("https://"):
        return []
    return [
        checks.Warning(
            f"LAURELS_BASE_URL is {settings.LAURELS_BASE_URL}, not https.",
            hint="Public badge URLs are baked into awards; serve them over https in production.",
            id="laurels.W001",
        )
    ]


@checks.register(checks.Tags.caches, deploy=True)
def check_shared_cache(app_configs, **kwargs):
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        return []
    return [
        checks.Warning(
            "The cache is local to each server process: rate limits are counted in the "
            "database instead, and cached public documents are kept per process.",
            hint="Set REDIS_URL when running several workers or several machines.",
            id="laurels.W002",
        )
    ]
