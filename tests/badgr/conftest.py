"""What every import test shares: the old server's origin is configured, as the import
requires (`laurels import-badgr` refuses to run without LAURELS_BADGR_ORIGIN)."""

from __future__ import annotations

import pytest

from tests.badgr.test_import import ORIGIN


@pytest.fixture(autouse=True)
def _badgr_origin(settings) -> None:
    settings.LAURELS_BADGR_ORIGIN = ORIGIN
