"""ASGI entry point, for ASGI servers (Laurels' own `serve` uses WSGI; see docs/deployment.md)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "laurels.settings")
application = get_asgi_application()
