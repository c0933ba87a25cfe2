"""Bot platform adapters: one pure module per platform (Dialogflow, Rasa, Voiceflow, ...).

Each turns its platform's webhook request into the conversation document the mapping engine
reads, and our outcome into the platform's response. An adapter imports nothing of the app but
the engine's types, so it is tested with the platform's request shapes as plain data.
"""
