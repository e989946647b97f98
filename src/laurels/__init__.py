"""Laurels: an Open Badges server and OAuth2 / OpenID Connect provider for connected apps."""

__version__ = "0.1.0"
