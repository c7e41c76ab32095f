"""The staff home (dashboard), the shared pieces of every page and the error pages."""

WORDS: dict[str, str] = {
    # Punctuation that French spaces
    "%(label)s:": "%(label)s :",
    "“%(text)s”": "« %(text)s »",
    "described as “%(text)s”": "décrite comme « %(text)s »",
    "no description (alt text): screen readers skip it": (
        "sans description (texte alternatif) : les lecteurs d’écran la sautent"
    ),
    # Dashboard
    "New letter": "Nouvelle lettre",
    "Sending now": "En cours d’envoi",
    "Progress": "Avancement",
    "sent": "envoyés",
    "queued": "en attente",
    "failed": "en échec",
    "per second": "par seconde",
    "ends about": "fin vers",
    "Nothing is going out right now.": "Rien ne part en ce moment.",
    "Scheduled next": "Prochains envois",
    "No letter is scheduled.": "Aucune lettre n’est programmée.",
    "Compose one": "En composer une",
    "Published since the last letter": "Publié depuis la dernière lettre",
    "%(count)s item since %(when)s.": "%(count)s contenu depuis le %(when)s.",
    "%(count)s items since %(when)s.": "%(count)s contenus depuis le %(when)s.",
    "Put them in a new letter": "Les mettre dans une nouvelle lettre",
    "%(count)s item waits for a decision.": "%(count)s contenu attend une décision.",
    "%(count)s items wait for a decision.": "%(count)s contenus attendent une décision.",
    "Open the desk": "Ouvrir le pupitre",
    "Approve social posts": "Valider les publications sociales",
    "Nothing waits for approval.": "Rien n’attend de validation.",
    "Failing sources": "Sources en échec",
    "Failing": "En échec",
    "%(count)s failure in a row.": "%(count)s échec d’affilée.",
    "%(count)s failures in a row.": "%(count)s échecs d’affilée.",
    "Every source answers.": "Toutes les sources répondent.",
    "Bounce rates": "Taux de retours",
    "Too high": "Trop élevé",
    "%(percent)s %% bounced, %(complaints)s complaints.": (
        "%(percent)s %% de retours, %(complaints)s plaintes."
    ),
    "See the bounces": "Voir les retours",
    "No recent letter bounced more than usual.": (
        "Aucune lettre récente n’a eu plus de retours que d’habitude."
    ),
    # Error pages
    "Something went wrong": "Quelque chose s’est mal passé",
    "dispatch could not do this. Nothing was sent. Try again in a moment; if it happens "
    "again, tell whoever runs dispatch the time it happened.": (
        "dispatch n’a pas pu le faire. Rien n’a été envoyé. Réessayez dans un moment ; si "
        "cela se reproduit, indiquez l’heure à la personne qui gère dispatch."
    ),
    "This address cannot be used this way.": "Cette adresse ne s’utilise pas ainsi.",
    # Shared words
    "Refresh": "Actualiser",
    "Show": "Afficher",
    "French": "Français",
    "English": "Anglais",
}
