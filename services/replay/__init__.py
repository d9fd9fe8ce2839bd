"""The replay service (see its issue and DESIGN.md §1)."""
