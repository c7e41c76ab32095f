"""Staff: accounts and roles, web sessions, API tokens, and who may do what."""
