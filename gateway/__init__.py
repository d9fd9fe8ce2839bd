"""The gateway: control plane, feed composition, web UI, replay admission."""
