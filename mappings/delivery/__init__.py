"""Delivery: the outbox and everything that gets its rows to Braze.

Leases and the sweep (``outbox``), sending a claim in batches (``dispatch``, ``batching``,
``attempt_rows``), when to try again (``retry_policy``, ``rate_limit``), who does the work
(``worker``, ``hints``), replays by hand (``replays``), and ``braze``: the one HTTP client,
which knows no models.
"""
