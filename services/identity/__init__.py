"""The identity service: users, identities, properties and merges (docs/architecture.md)."""
