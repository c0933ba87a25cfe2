"""A local fake of Braze's ``POST /users/track`` and ``POST /users/export/ids`` (see
docs/braze.md for the API it follows).

Standard library only; imports nothing from the rest of the project.
"""

from .faults import Fault
from .received_requests import ReceivedRequest
from .server import FakeBraze

__all__ = ["FakeBraze", "Fault", "ReceivedRequest"]
