from django.conf import settings

from laurels import __version__


def site(request):
    """What every page template may show about this server."""
    return {
        "site_name": settings.LAURELS_SITE_NAME,
        "laurels_version": __version__,
        "signup_enabled": settings.LAURELS_SIGNUP_ENABLED,
    }
