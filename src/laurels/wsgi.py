"""WSGI entry point: `laurels serve` runs it; other WSGI servers may too."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "laurels.settings")
django_application = get_wsgi_application()

# These need Django set up.
from django.conf import settings  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from laurels.api.answer_cache import BearerListAnswers  # noqa: E402
from laurels.core.sqlite_wal import wal_checkpointer_start  # noqa: E402
from laurels.openbadges.fastpath import PublicDocumentFastPath  # noqa: E402

GC_YOUNGEST_THRESHOLD = 10_000

application = PublicDocumentFastPath(BearerListAnswers(django_application))

# Import every view now rather than on the first request, then hide all that start-up
# made (modules, settings, URL patterns: it lives as long as the worker) from the cyclic
# garbage collector. Otherwise each full collection walks the whole heap again; a
# 10,000-award batch, which makes many objects, set off two or three of them, 200-300 ms.
# Collecting the youngest generation every 10,000 new objects instead of 700 leaves
# requests' short-lived objects to reference counting (two or three more full
# collections, 100-170 ms, in the same batch); cycles are still collected.
get_resolver().url_patterns  # noqa: B018 (imports the URLconf)
gc.freeze()
gc.set_threshold(GC_YOUNGEST_THRESHOLD, *gc.get_threshold()[1:])

# The embedded database's log is copied back by a thread, not by some request's commit.
wal_checkpointer = wal_checkpointer_start(
    settings.DATABASES["default"], settings.LAURELS_SQLITE_CHECKPOINT_SECONDS
)
