"""WSGI entry point: `laurels serve` runs it; other WSGI servers may too."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "laurels.settings")
django_application = get_wsgi_application()

# These need Django set up.
from django.urls import get_resolver  # noqa: E402

from laurels.api.answer_cache import BearerListAnswers  # noqa: E402
from laurels.openbadges.fastpath import PublicDocumentFastPath  # noqa: E402

application = PublicDocumentFastPath(BearerListAnswers(django_application))

# Import every view now rather than on the first request, then hide all that start-up
# made (modules, settings, URL patterns: it lives as long as the worker) from the cyclic
# garbage collector. Otherwise each full collection walks the whole heap again; a
# 10,000-award batch, which makes many objects, set off two or three of them, 200-300 ms.
get_resolver().url_patterns  # noqa: B018 (imports the URLconf)
gc.freeze()
