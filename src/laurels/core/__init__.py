"""Pieces every domain app shares: entity ids, domain errors, rate limits, system checks."""
