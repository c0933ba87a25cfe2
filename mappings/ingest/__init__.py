"""What happens when a conversation arrives: map it, record its field paths, store it in the
outbox, and answer within the sync budget (``conversations``; ``discovery`` for the paths)."""
