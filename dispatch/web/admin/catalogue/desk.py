"""The editorial desk's words (/admin/desk)."""

WORDS: dict[str, str] = {
    "Each published item is decided once for every channel: the alert, the digests, the next "
    "letter and each social account.": (
        "Chaque contenu publié est décidé une fois pour tous les canaux : l’alerte, les "
        "récapitulatifs, la prochaine lettre et chaque compte de réseau social."
    ),
    "Awaiting a decision": "En attente de décision",
    "Policy": "Règle",
    "Channels that will carry it": "Canaux qui le diffuseront",
    "Text for %(account)s": "Texte pour %(account)s",
    "%(length)s of %(limit)s characters, as %(network)s counts them": (
        "%(length)s caractères sur %(limit)s, comptés comme le fait %(network)s"
    ),
    "Approve the checked channels": "Approuver les canaux cochés",
    "Save the texts": "Enregistrer les textes",
    "Hold on every channel": "Retenir sur tous les canaux",
    "Nothing awaits a decision.": "Rien n’attend de décision.",
    "Recently decided": "Décidés récemment",
    "Item": "Contenu",
    "Decision": "Décision",
    "Channels": "Canaux",
    "Nothing decided yet.": "Rien n’a encore été décidé.",
    "Topic policies": "Règles par thème",
    "Automatic: released at once. Approval: waits for staff. Manual: nothing goes out unless "
    "staff release it, channel by channel.": (
        "Automatique : diffusé aussitôt. Approbation : attend l’équipe. Manuelle : rien ne part "
        "sans que l’équipe le diffuse, canal par canal."
    ),
    "Save the policies": "Enregistrer les règles",
    "This text cannot be posted:": "Ce texte ne peut pas être publié :",
    "Alert (readers who asked for “as soon as published”)": (
        "Alerte (lecteurs et lectrices qui ont choisi « dès la publication »)"
    ),
    "Weekly and monthly digests": "Récapitulatifs de la semaine et du mois",
    "Next letter": "Prochaine lettre",
    "Every social account": "Tous les comptes de réseaux sociaux",
    "released": "diffusé",
    "waiting": "en attente",
    "off": "désactivé",
    "held": "retenu",
    "automatic": "automatique",
    "awaiting approval": "attend une approbation",
    "approved": "approuvé",
    "policy|Automatic: everything goes out": "Automatique : tout part",
    "policy|On approval: staff release it": "Sur approbation : l’équipe le libère",
    "policy|Manual: staff choose each channel": "Manuelle : l’équipe choisit chaque canal",
    "Released: the checked channels will carry the item.": (
        "Diffusé : les canaux cochés diffuseront ce contenu."
    ),
    "Held: no channel will carry the item, and its waiting social posts are cancelled.": (
        "Retenu : aucun canal ne diffusera ce contenu, et ses messages en attente sur les "
        "réseaux sociaux sont annulés."
    ),
    "The texts are saved. Nothing is released yet.": (
        "Les textes sont enregistrés. Rien n’est encore diffusé."
    ),
    "The topics’ policies are saved. They apply to items published from now on.": (
        "Les règles des thèmes sont enregistrées. Elles valent pour les contenus publiés à "
        "partir de maintenant."
    ),
}
