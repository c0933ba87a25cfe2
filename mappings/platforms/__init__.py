"""Bot platform adapters: one pure module per platform (Dialogflow, Rasa, Voiceflow, ...).

Each turns its platform's webhook request into the conversation document the mapping engine
reads, and our outcome into the platform's response. An adapter imports nothing of the app but
the engine's types, so it is tested with the platform's request shapes as plain data.

``ADAPTERS`` maps each platform id (the ``<platform>`` of ``/api/v1/platforms/<platform>/<slug>/``)
to its adapter; ``base`` holds the types, docs/platforms.md what each platform sends and gets.
"""

from mappings.platforms import (
    botpress,
    dialogflow_cx,
    dialogflow_es,
    lex_v2,
    pypestream,
    rasa,
    twilio_studio,
    voiceflow,
)
from mappings.platforms.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    adapter.platform_id: adapter
    for adapter in (
        dialogflow_cx.ADAPTER,
        dialogflow_es.ADAPTER,
        rasa.ADAPTER,
        voiceflow.ADAPTER,
        botpress.ADAPTER,
        pypestream.ADAPTER,
        twilio_studio.ADAPTER,
        lex_v2.ADAPTER,
    )
}
