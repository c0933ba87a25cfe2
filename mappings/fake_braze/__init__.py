"""A local fake of Braze's ``POST /users/track``, faithful to shared/BRAZE_API.md.

Standard library only; imports nothing from the rest of the project.
"""

from .server import FakeBraze, Fault, ReceivedRequest

__all__ = ["FakeBraze", "Fault", "ReceivedRequest"]
