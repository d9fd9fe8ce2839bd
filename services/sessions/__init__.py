"""The sessions service: events, sessions and the feed (docs/architecture.md, docs/sessions.md)."""
