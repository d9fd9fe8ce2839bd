"""Session replay at the gateway: the plan, the free trial and recording admission."""
