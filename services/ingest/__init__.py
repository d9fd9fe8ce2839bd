"""The ingest service: SDK-facing event collection (Segment spec, Heap server API, our browser SDK).

Stateless: no database, no migrations, no consumer. Entry point: `services.ingest.app:create_app`.
"""
