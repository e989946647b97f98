"""WSGI entry point: `laurels serve` runs it; other WSGI servers may too."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "laurels.settings")
django_application = get_wsgi_application()

from laurels.openbadges.fastpath import PublicDocumentFastPath  # noqa: E402 (needs Django set up)

application = PublicDocumentFastPath(django_application)
