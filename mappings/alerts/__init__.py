"""Alerts: rules an admin configures, evaluated every ALERTS_EVALUATE_INTERVAL_SECONDS.

conditions.py: what each kind of rule finds firing now, per subject, with a summary and the
filtered log link; evaluation.py: the state per (rule, subject), the cool-down and the claim
that keeps two evaluators from sending one message twice; messages.py: the words;
channels.py: email and the chat webhook, each message recorded.
"""
