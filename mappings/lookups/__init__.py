"""Lookups: a bot reads what Braze knows about its user, mapped into its own names.

export_budget.py: the environment's export requests per minute, shared by every process;
export_batcher.py: one export for concurrent lookups of one user, and for different users
within a short window; service.py: one lookup from conversation to answer, logged. The cache
of exported profiles is mappings/profile_cache.py, on the ground floor, because delivery clears
a user's entry when it writes to that user: delivery imports it, and lookups import delivery's
Braze client, so imports run one way.
"""
