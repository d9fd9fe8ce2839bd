"""The Footfall kernel: config, bus, message contracts, db, web scaffolding, ids. No business rules."""
