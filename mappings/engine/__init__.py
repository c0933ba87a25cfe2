"""The pure mapping engine: conversation JSON in, a Braze /users/track body and problems out.

No ORM, no network, no settings: plain data in and out, so it is fast and testable with dicts.
``spec`` is what configuration code may import (the plain-data mapping and single-field
checks); ``mapping`` compiles and runs a spec.
"""
