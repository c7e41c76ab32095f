"""Bounces and complaints: what returned mail says, where it is read, what it changes."""
