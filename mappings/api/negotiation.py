"""Content negotiation that remembers its answers.

DRF's ``DefaultContentNegotiation`` parses the request's ``Accept`` header and each renderer's
media type on every request, though bots send the same few ``Accept`` headers (or none) every
time. The answer depends only on that header, the ``?format=`` override and the renderers
offered, so it is computed once per process for each such combination and reused. A refusal
(406) is never remembered: it is computed again.
"""

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation

# Distinct (renderers, Accept, format) combinations kept; past it the memory starts afresh, so a
# client sending ever-new Accept headers costs the default's work, never unbounded memory.
MAX_REMEMBERED = 256


class RememberingContentNegotiation(DefaultContentNegotiation):
    """DefaultContentNegotiation's answers, remembered per process (see the module docstring)."""

    _answers: dict[tuple, tuple[int, str]] = {}

    def select_renderer(self, request, renderers, format_suffix=None) -> tuple[Any, str]:
        format_param = self.settings.URL_FORMAT_OVERRIDE
        chosen_format = format_suffix or request.query_params.get(format_param)
        key = (
            tuple(type(renderer) for renderer in renderers),
            request.META.get("HTTP_ACCEPT", "*/*"),
            chosen_format,
        )
        answer = self._answers.get(key)
        if answer is not None:
            position, media_type = answer
            return renderers[position], media_type
        renderer, media_type = super().select_renderer(request, renderers, format_suffix)
        if len(self._answers) >= MAX_REMEMBERED:
            self._answers.clear()
        self._answers[key] = (renderers.index(renderer), media_type)
        return renderer, media_type
