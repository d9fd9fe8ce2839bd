"""What the identity consumer reads of `event.captured`: a slim view of footfall.messages.Event.

Validating every field of every event (targets, hierarchies, properties) cost more than the whole
database work of a batch; identity needs ids, time and the fields of the initial properties
(properties.py). `read_events` reads just those with one typed msgspec pass (footfall/readers.py)
and leaves the rest unbuilt; what that pass is unsure of goes through the slim pydantic view,
which accepts and refuses what it always did. Both are duck-compatible with `EventsCaptured`.
"""
from __future__ import annotations

from footfall.messages import Event, EventsCaptured
from footfall.readers import FastReader, message_view, twin, view

SlimEvent = view(
    Event, "SlimEvent", ("event_id", "device_id", "user_id", "identity", "time", "page", "device", "geo", "campaign"),
    parts={"page": ("url", "domain", "path", "referrer"), "device": ("browser", "os", "device_type")},
)
SlimEventsCaptured = message_view(EventsCaptured, "SlimEventsCaptured", SlimEvent)
# The fast path's result: the same fields as msgspec Structs.
WireEventsCaptured = twin(SlimEventsCaptured)
# Read an `event.captured` body; raises what the pydantic view raises for a bad message.
read_events = FastReader(SlimEventsCaptured)
