"""Criteria of defined events: model, condition operators, CSS selectors, a Python matcher and a SQL compiler.

A library, not a service: no I/O. Definitions, sessions and the gateway import it.
"""
