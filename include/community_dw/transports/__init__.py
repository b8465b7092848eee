"""Transports that fetch a source's extract from its producer and land it as an immutable batch."""
