"""The admin site's pages for this app.

config.py: what admins edit (environments, credentials, mapping sets, clients), with history;
audit.py: the raw delivery rows, read-only; forms.py: the checks input gets; preview.py: the
mapping preview page; widgets.py: the form widgets they share; lookups.py: the read rows
and lookup TTL per mapping set, and the lookup log; canary.py: the Braze canary's runs;
alerts.py: the alert rules, what fires now and the messages sent. Importing the modules registers
their admins.
"""

from mappings.admin import alerts, audit, canary, config, lookups  # noqa: F401
