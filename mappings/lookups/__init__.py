"""Lookups: a bot reads what Braze knows about its user, mapped into its own names.

profile_cache.py: the per-environment cache of exported profiles and its invalidation on write;
export_budget.py: the environment's export requests per minute, shared by every process;
export_batcher.py: one export for concurrent lookups of one user, and for different users
within a short window; service.py: one lookup from conversation to answer, logged.
"""
