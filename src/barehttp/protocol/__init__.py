"""Protocol layer: pure functions and state machines over bytes (no sockets, no clock)."""
