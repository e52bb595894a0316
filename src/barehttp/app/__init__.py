"""The reference application: accounts, sessions, usage quota, pages."""
