"""Social pages: the approval queue and the accounts."""

WORDS: dict[str, str] = {}
