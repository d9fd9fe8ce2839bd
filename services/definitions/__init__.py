"""The definitions service: named, coloured event definitions (docs/architecture.md)."""
