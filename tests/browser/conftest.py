"""Browser tests: Playwright driving Debian's Chromium; the `chromium` fixture is in
tests/browsers.py, shared through tests/conftest.py with the attacks of tests/security."""
