"""Social pages: the approval queue and the accounts."""

WORDS: dict[str, str] = {
    "environment variables (%(names)s)": "variables d’environnement (%(names)s)",
    "stored encrypted": "enregistrés chiffrés",
    "none yet": "aucun pour l’instant",
    "Social accounts": "Comptes sociaux",
    "Social account": "Compte social",
    "Which posts": "Quelles publications",
    "Show": "Afficher",
    "To review and scheduled": "À relire et programmés",
    "post|Published": "Publié",
    "posts|Published": "Publiés",
    "Account": "Compte",
    "Every account": "Tous les comptes",
    "Show these posts": "Afficher ces publications",
    "No posts here.": "Aucune publication ici.",
    "Awaiting approval": "En attente d’approbation",
    "Approved, scheduled": "Approuvé, programmé",
    "Publishing": "Publication en cours",
    "goes out": "part le",
    "approved by": "approuvé par",
    "account off": "compte désactivé",
    "Last error:": "Dernière erreur :",
    "See it on the network": "Le voir sur le réseau",
    "Text": "Texte",
    "characters (each link counts as 23)": "caractères (chaque lien compte pour 23)",
    "characters (graphemes)": "caractères (graphèmes)",
    "characters": "caractères",
    "too long by %(n)s": "trop long de %(n)s",
    "Save the text": "Enregistrer le texte",
    "Approve": "Approuver",
    "Publish now": "Publier maintenant",
    "Cancel this post": "Annuler cette publication",
    "Schedule (Paris time)": "Programmer (heure de Paris)",
    "Time": "Heure",
    "Schedule this post": "Programmer cette publication",
    "Give a date and a time, like 2026-12-01 and 09:00.": (
        "Donnez une date et une heure, par exemple 2026-12-01 et 09:00."
    ),
    "The post's text is saved.": "Le texte de la publication est enregistré.",
    "The post is approved: it goes out at its time.": (
        "Le post est approuvé : il part à son heure."
    ),
    "The post is scheduled.": "La publication est programmée.",
    "The post is being published.": "La publication part.",
    "The post is cancelled.": "La publication est annulée.",
    # Accounts.
    "Network": "Réseau",
    "Mode": "Mode",
    "Delay": "Délai",
    "Credentials": "Identifiants",
    "State": "État",
    "%(n)s min": "%(n)s min",
    "every topic": "tous les thèmes",
    "to the outbox folder": "vers le dossier de sortie",
    "Change": "Modifier",
    "Turn off": "Désactiver",
    "Turn on": "Réactiver",
    "No accounts yet.": "Aucun compte pour l’instant.",
    "Add an account": "Ajouter un compte",
    "Server address": "Adresse du serveur",
    "Mastodon: the instance, like https://mastodon.social. Bluesky: empty for bsky.social.": (
        "Mastodon : l’instance, par exemple https://mastodon.social. Bluesky : vide pour "
        "bsky.social."
    ),
    "Handle or organisation": "Identifiant ou organisation",
    "Bluesky: name.bsky.social. LinkedIn: the organisation's number.": (
        "Bluesky : nom.bsky.social. LinkedIn : le numéro de l’organisation."
    ),
    "Fill in those of the chosen network. They are stored encrypted and never shown again; or "
    "name an environment prefix where the server reads them.": (
        "Remplissez ceux du réseau choisi. Ils sont gardés chiffrés et ne sont plus jamais "
        "affichés ; ou donnez un préfixe de variables d’environnement où le serveur les lit."
    ),
    "Access token": "Jeton d’accès",
    "App password": "Mot de passe d’application",
    "Refresh token": "Jeton de renouvellement",
    "Client id": "Identifiant client",
    "Client secret": "Secret client",
    "Or an environment prefix": "Ou un préfixe d’environnement",
    "Like DISPATCH_MASTODON_LAB: the server then reads DISPATCH_MASTODON_LAB_ACCESS_TOKEN.": (
        "Par exemple DISPATCH_MASTODON_LAB : le serveur lit alors "
        "DISPATCH_MASTODON_LAB_ACCESS_TOKEN."
    ),
    "Add this account": "Ajouter ce compte",
    "Automatic": "Automatique",
    "After approval": "Après approbation",
    "Off": "Désactivé",
    "Automatic: posts go out by themselves. After approval: they wait in the queue. Off: none "
    "are prepared.": (
        "Automatique : les posts partent d’eux-mêmes. Après approbation : ils attendent dans "
        "la file. Désactivé : aucun n’est préparé."
    ),
    "Delay after an item appears (minutes)": "Délai après la parution d’un contenu (minutes)",
    "Topics (none ticked: every topic)": "Thèmes (aucun coché : tous les thèmes)",
    "Save the account": "Enregistrer le compte",
    "Back to the social accounts": "Retour aux comptes sociaux",
    "The account is added.": "Le compte est ajouté.",
    "The account is saved.": "Le compte est enregistré.",
    "The account is on again.": "Le compte est réactivé.",
    "The account is off: nothing is prepared or published for it.": (
        "Le compte est désactivé : rien n’est préparé ni publié pour lui."
    ),
}
