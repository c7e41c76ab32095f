"""The errors staff see when an edition cannot be made, changed or moved as they asked."""


class DraftError(ValueError):
    """An edition that cannot be created or changed as asked; the message says why."""


class EditionStateError(Exception):
    """The edition is not in a state that allows this action; the message says why."""
