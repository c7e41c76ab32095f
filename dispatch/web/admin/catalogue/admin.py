"""Bounces, the audit trail and the team."""

WORDS: dict[str, str] = {
    # The audit trail's actions
    "A held bounce report applied": "Retour en attente appliqué",
    "A held bounce report discarded": "Retour en attente écarté",
    "Approved on the desk": "Approuvé au pupitre",
    "A channel switched on the desk": "Canal modifié au pupitre",
    "Held on the desk": "Retenu au pupitre",
    "A topic's desk rule changed": "Règle de pupitre d’un thème modifiée",
    "Letter cancelled": "Lettre annulée",
    "Letter created": "Lettre créée",
    "Letter edited": "Lettre modifiée",
    "Sending paused": "Envoi mis en pause",
    "Sending resumed": "Envoi repris",
    "Letter scheduled": "Lettre programmée",
    "Sending started": "Envoi lancé",
    "Pick added": "Sélection ajoutée",
    "Pick changed": "Sélection modifiée",
    "Pick deleted": "Sélection supprimée",
    "Pick withdrawn": "Sélection retirée",
    "Social account added": "Compte de réseau ajouté",
    "Social account changed": "Compte de réseau modifié",
    "Social account disabled": "Compte de réseau désactivé",
    "Social account enabled": "Compte de réseau activé",
    "Social post approved": "Publication approuvée",
    "Social post cancelled": "Publication annulée",
    "Social post edited": "Publication modifiée",
    "Social post scheduled": "Publication programmée",
    "Source added": "Source ajoutée",
    "Source changed": "Source modifiée",
    "Source paused": "Source mise en pause",
    "Source removed": "Source supprimée",
    "Source resumed": "Source reprise",
    "Staff member invited": "Membre de l’équipe invité·e",
    "Staff account disabled": "Compte d’équipe désactivé",
    "Staff account enabled": "Compte d’équipe réactivé",
    "Sign-in link sent": "Lien de connexion envoyé",
    "Logged in": "Connexion",
    "Failed login": "Connexion refusée",
    "Password changed": "Mot de passe changé",
    "Recovery code used": "Code de secours utilisé",
    "Role changed": "Rôle modifié",
    "Session ended": "Session fermée",
    "API token created": "Jeton d’API créé",
    "API token revoked": "Jeton d’API révoqué",
    "Second factor turned off": "Double authentification désactivée",
    "Second factor turned on": "Double authentification activée",
    "Subscriber added": "Abonné·e ajouté·e",
    "Subscriber erased": "Abonné·e effacé·e",
    "A subscriber's data exported": "Données d’un·e abonné·e exportées",
    "Subscription paused": "Abonnement mis en pause",
    "Preferences changed": "Préférences modifiées",
    "Subscription resumed": "Abonnement repris",
    "Unsubscribed by staff": "Désabonnement par l’équipe",
    "Subscribers exported": "Abonné·es exporté·es",
    "Subscribers imported": "Abonné·es importé·es",
    "Inactive subscribers removed": "Abonné·es inactifs retiré·es",
    "Topic added": "Thème ajouté",
    "Topic changed": "Thème modifié",
    "Topic removed": "Thème supprimé",
    "Category rule added": "Règle de catégorie ajoutée",
    "Category rule removed": "Règle de catégorie supprimée",
    # Bounces
    "Addresses that are never mailed again": "Les adresses qui ne reçoivent plus rien",
    "Suppressed addresses by reason": "Adresses bloquées, par raison",
    "Suppressed addresses": "Adresses bloquées",
    "Reason": "Raison",
    "Addresses": "Adresses",
    "Erased and removed people leave no address behind: only a keyed fingerprint, so that "
    "they are never mailed again.": (
        "Les personnes effacées ou retirées ne laissent aucune adresse : seulement une "
        "empreinte chiffrée, pour ne plus jamais leur écrire."
    ),
    "Search the suppressed addresses": "Chercher dans les adresses bloquées",
    "Address, or part of it": "Adresse, ou une partie",
    "A whole address is also checked against erased ones.": (
        "Une adresse complète est aussi comparée aux adresses effacées."
    ),
    "All reasons": "Toutes les raisons",
    "%(address)s is suppressed: %(reason)s.": "%(address)s est bloquée : %(reason)s.",
    "%(address)s is not suppressed.": "%(address)s n’est pas bloquée.",
    "No address matches.": "Aucune adresse ne correspond.",
    "event|Unsubscribed": "Désabonnement",
    "Bounced": "Adresse en échec",
    "Reported as spam": "Signalé comme spam",
    "Erased on request": "Effacement demandé",
    "Removed after inactivity": "Retrait après inactivité",
    "Returned mail held for review": "Retours de courrier mis de côté",
    "These reports changed nobody: nothing proved which email they answer. Apply one you "
    "trust, discard the others.": (
        "Ces retours n’ont changé personne : rien ne prouvait à quel email ils répondent. "
        "Appliquez ceux auxquels vous vous fiez, écartez les autres."
    ),
    "Permanent failure": "Échec définitif",
    "Temporary failure": "Échec temporaire",
    "Spam report": "Signalement de spam",
    "Unreadable message": "Message illisible",
    "none": "aucune",
    "Why it is held": "Pourquoi il est mis de côté",
    "What the server said": "Ce qu’a dit le serveur",
    "Sent by": "Envoyé par",
    "Apply it": "L’appliquer",
    "Discard it": "L’écarter",
    "Nothing is waiting.": "Rien n’attend.",
    "Nothing proves which email it answers, and anyone can write to the bounce mailbox: "
    "apply it only if you trust it.": (
        "Rien ne prouve à quel email il répond, et n’importe qui peut écrire à la boîte des "
        "retours : ne l’appliquez que si vous vous y fiez."
    ),
    "The email it answers is no longer on record.": (
        "L’email auquel il répond n’est plus enregistré."
    ),
    "The report is applied.": "Le retour est appliqué.",
    "The report is discarded: it changed nothing.": "Le retour est écarté : il n’a rien changé.",
    "This report cannot be applied: it was already decided, or it is a message that could "
    "not be read (discard it).": (
        "Ce retour ne peut pas être appliqué : il a déjà été traité, ou c’est un message qui "
        "n’a pas pu être lu (écartez-le)."
    ),
    # Audit
    "Every change made by staff, the API, the command line or dispatch itself, newest first. "
    "Nothing here can be changed or deleted.": (
        "Chaque modification faite par l’équipe, l’API, la ligne de commande ou dispatch "
        "lui-même, les plus récentes d’abord. Rien ici ne peut être modifié ni supprimé."
    ),
    "Filter the trail": "Filtrer le journal",
    "Who (email address)": "Qui (adresse email)",
    "All actions": "Toutes les actions",
    "Object": "Objet",
    "A kind and a number, e.g. source:3 or item:12.": (
        "Un type et un numéro, par exemple source:3 ou item:12."
    ),
    "From": "Du",
    "Until": "Au",
    "Who": "Qui",
    "Details": "Détails",
    "Nothing matches.": "Rien ne correspond.",
    "staff pages": "pages de l’équipe",
    "API": "API",
    "command line": "ligne de commande",
    "automatic": "automatique",
    # Team
    "Staff accounts": "Comptes de l’équipe",
    "Person": "Personne",
    "State": "État",
    "Last login": "Dernière connexion",
    "active": "actif",
    "disabled": "désactivé",
    "invited (no password yet)": "invité·e (pas encore de mot de passe)",
    "second factor on": "deuxième facteur activé",
    "Invite someone": "Inviter quelqu’un",
    "They receive an email with a one-time link to choose their password.": (
        "La personne reçoit un email avec un lien à usage unique pour choisir son mot de passe."
    ),
    "Owner: everything, the team too. Editor: runs the dissemination. Author: prepares, never "
    "sends. Viewer: reads.": (
        "Propriétaire : tout, l’équipe aussi. Éditeur ou éditrice : mène la diffusion. Auteur "
        "ou autrice : prépare, n’envoie jamais. Lecteur ou lectrice : consulte."
    ),
    "Language of their pages and emails": "Langue de ses pages et de ses emails",
    "Send the invitation": "Envoyer l’invitation",
    "Send the invitation again": "Renvoyer l’invitation",
    "Back to the team": "Retour à l’équipe",
    "on": "activé",
    "off": "désactivé",
    "Account since": "Compte depuis",
    "New role": "Nouveau rôle",
    "Their sessions end: they log in again with the new role.": (
        "Ses sessions se terminent : la personne se reconnecte avec le nouveau rôle."
    ),
    "Change the role": "Changer le rôle",
    "Access": "Accès",
    "Disable the account": "Désactiver le compte",
    "Enable the account": "Réactiver le compte",
    "Email a new password link": "Envoyer un lien pour un nouveau mot de passe",
    "Where they are logged in": "Où la personne est connectée",
    "Open sessions": "Sessions ouvertes",
    "No open session.": "Aucune session ouverte.",
    "The invitation is sent: the link works once, for a limited time.": (
        "L’invitation est envoyée : le lien ne sert qu’une fois, pendant un temps limité."
    ),
    "The role is changed; their sessions ended, they log in again.": (
        "Le rôle est changé ; ses sessions sont terminées, la personne se reconnecte."
    ),
    "The account is disabled: its sessions ended and its API tokens stopped.": (
        "Le compte est désactivé : ses sessions sont terminées et ses jetons d’API ne "
        "fonctionnent plus."
    ),
    "The account is enabled again.": "Le compte est réactivé.",
    "A new link is sent: it works once, for a limited time.": (
        "Un nouveau lien est envoyé : il ne sert qu’une fois, pendant un temps limité."
    ),
    "%(email)s is the last active owner: make someone else owner first, so that somebody can "
    "always manage the team.": (
        "%(email)s est la dernière personne propriétaire active : nommez d’abord quelqu’un "
        "d’autre propriétaire, pour que l’équipe puisse toujours être gérée."
    ),
    "Choose a role.": "Choisissez un rôle.",
    "Choose a language.": "Choisissez une langue.",
    "A disabled account gets no link: enable it first.": (
        "Un compte désactivé ne reçoit pas de lien : réactivez-le d’abord."
    ),
    "This address already has a staff account.": "Cette adresse a déjà un compte d’équipe.",
}
