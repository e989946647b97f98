"""WSGI entry point: `laurels serve` runs it; other WSGI servers may too."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "laurels.settings")
django_application = get_wsgi_application()

# These need Django set up.
from laurels.api.answer_cache import BearerListAnswers  # noqa: E402
from laurels.openbadges.fastpath import PublicDocumentFastPath  # noqa: E402

application = PublicDocumentFastPath(BearerListAnswers(django_application))
