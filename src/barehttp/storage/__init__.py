"""Storage layer: one interface (accounts, sessions, quota), SQLite first."""
