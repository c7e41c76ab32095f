"""The staff menu's entries."""

WORDS: dict[str, str] = {
    "Items": "Contenus",
    "Desk": "Pupitre",
    "Sources": "Sources",
    "Topics": "Thèmes",
    "Social": "Réseaux sociaux",
    "Subscribers": "Abonné·es",
    "Bounces": "Retours",
    "Audit": "Journal",
    "Staff": "Équipe",
}
