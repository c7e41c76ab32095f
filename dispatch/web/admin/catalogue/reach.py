"""Once per reader, on an edition's page: each item's readers and the "send whole" choice."""

WORDS: dict[str, str] = {
    "Once per reader": "Une fois par personne",
    "Send every item to everyone": "Envoyer chaque contenu à tout le monde",
    "By default each reader's copy leaves out the items they already received in an alert, a "
    "digest or another letter, and a reader with nothing new gets nothing. Tick this for a "
    "letter that must stand whole.": (
        "Par défaut, chaque exemplaire laisse de côté les contenus que la personne a déjà reçus "
        "dans une alerte, un récapitulatif ou une autre lettre, et qui n’a rien de nouveau ne "
        "reçoit rien. Cochez pour une lettre qui doit rester entière."
    ),
    "Readers per item": "Destinataires par contenu",
    "Readers who got each item": "Personnes ayant reçu chaque contenu",
    "Sent whole: every item goes to everyone.": (
        "Envoyée entière : chaque contenu va à tout le monde."
    ),
    "Once per reader: a reader who already received an item elsewhere does not get it again "
    "here.": (
        "Une fois par personne : qui a déjà reçu un contenu ailleurs ne le reçoit pas à "
        "nouveau ici."
    ),
    "Readers": "Destinataires",
}

WORDS.update(
    {
        "Clicks per link": "Clics par lien",
        "Counted in aggregate only (mail.link_counts is on): how many times each link was "
        "followed, never by whom.": (
            "Comptés en tout et pour tout (mail.link_counts est activé) : combien de fois "
            "chaque lien a été suivi, jamais par qui."
        ),
        "Link": "Lien",
        "Clicks": "Clics",
        "No link recorded for this edition.": "Aucun lien enregistré pour cette lettre.",
    }
)
