"""Publishers: one adapter per network, and the outbox, behind one small Protocol."""
