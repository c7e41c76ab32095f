"""The error staff see when what they asked of content cannot be done."""


class ContentError(ValueError):
    """Bad input from staff (unknown topic, invalid URL…); the message says what to fix."""
