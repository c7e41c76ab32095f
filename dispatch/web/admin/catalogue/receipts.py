"""What a reader received: the receipt ledger on a subscriber's page."""

WORDS: dict[str, str] = {
    "Items received": "Contenus reçus",
    "Each item reaches a reader once: later alerts, digests and letters leave out what is "
    "listed here.": (
        "Chaque contenu n’est envoyé qu’une fois à chaque personne : les alertes, "
        "récapitulatifs et lettres suivants laissent de côté ce qui figure ici."
    ),
    "Item": "Contenu",
    "In": "Dans",
    "No item received yet.": "Aucun contenu reçu pour l’instant.",
}
