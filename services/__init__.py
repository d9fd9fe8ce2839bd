"""Footfall services: each a package that imports only the kernel `footfall`, never another service."""
