"""Subscribers pages: the list, one person, adding, erasing, importing."""

WORDS: dict[str, str] = {
    # The consent ledger's details
    "Welcome email": "Email de bienvenue",
    "The letter": "La lettre",
    "Name given": "Nom donné",
    "Before": "Avant",
    "Asked on": "Demandé le",
    "Years without a sign": "Années sans signe de vie",
    "Hard bounce": "Échec définitif",
    "Soft bounces so far": "Échecs temporaires jusqu’ici",
    "Subscriber": "Abonné·e",
    "Find subscribers": "Chercher des abonné·es",
    "Add a subscriber": "Ajouter un·e abonné·e",
    "Add this subscriber": "Ajouter cette personne",
    "Import a CSV file": "Importer un fichier CSV",
    "Import subscribers": "Importer des abonné·es",
    "Export as CSV": "Exporter en CSV",
    "Address or name": "Adresse ou nom",
    "Email address": "Adresse email",
    "Name": "Nom",
    "Any": "Tous",
    "Topic": "Thème",
    "Topics": "Thèmes",
    "Rhythm": "Rythme",
    "Search": "Chercher",
    "Show everyone": "Tout afficher",
    "Pages": "Pages",
    "First page": "Première page",
    "Next page": "Page suivante",
    "Nobody matches.": "Personne ne correspond.",
    "No subscribers yet.": "Aucun·e abonné·e pour l’instant.",
    "All subscribers": "Tous les abonné·es",
    "Back to the subscribers": "Retour aux abonné·es",
    "Back to the subscriber": "Retour à l’abonné·e",
    "There is no such subscriber: erased, or never here.": (
        "Cette personne n’est pas (ou plus) abonnée : effacée, ou jamais inscrite."
    ),
    # Statuses, rhythms, languages.
    "Waiting for confirmation": "En attente de confirmation",
    "status|Active": "Abonné·e",
    "status|Unsubscribed": "Désabonné·e",
    "Bounced": "Adresse en échec",
    "Complained": "Signalé comme indésirable",
    "Immediately": "À chaque parution",
    "Weekly": "Hebdomadaire",
    "Monthly": "Mensuel",
    "French": "Français",
    "English": "Anglais",
    # One person.
    "Confirmed": "Confirmé le",
    "Paused until": "En pause jusqu’au",
    "Event reminders": "Rappels d’évènements",
    "yes": "oui",
    "no": "non",
    "suppressed": "adresse bloquée",
    "Preferences": "Préférences",
    "No topic followed.": "Aucun thème suivi.",
    "Actions": "Actions",
    "Change the preferences": "Modifier les préférences",
    "Save the preferences": "Enregistrer les préférences",
    "Download everything held (GDPR, JSON)": "Télécharger toutes ses données (RGPD, JSON)",
    "Erase…": "Effacer…",
    "Pause mail": "Mettre les envois en pause",
    "%(days)s days": "%(days)s jours",
    "Resume now": "Reprendre maintenant",
    "Apply": "Appliquer",
    "Unsubscribe from everything": "Désabonner de tout",
    "What was sent": "Ce qui lui a été envoyé",
    "Nothing was sent to this person yet.": "Rien n’a encore été envoyé à cette personne.",
    "Date": "Date",
    "Consent history": "Historique du consentement",
    "What": "Quoi",
    "Where from": "D’où",
    "Details": "Détails",
    "text of": "texte du",
    "Queued": "En file d’attente",
    "Skipped": "Écarté",
    "Asked to subscribe": "Demande d’inscription",
    "Changed preferences": "Préférences modifiées",
    "Imported": "Importé·e",
    "Added by staff": "Ajouté·e par l’équipe",
    "Erased": "Effacé·e",
    "Purged": "Purgé·e",
    "Topics and rhythm": "Thèmes et rythme",
    "Not followed": "Non suivi",
    "No topics yet.": "Aucun thème pour l’instant.",
    "For someone who agreed elsewhere (a paper form, an event). They are active at once and get "
    "no confirmation email.": (
        "Pour une personne qui a donné son accord ailleurs (un formulaire papier, un évènement). "
        "Elle est active tout de suite et ne reçoit pas d’email de confirmation."
    ),
    "Where they agreed": "Où l’accord a été donné",
    "Kept in the consent history, e.g. “sign-up sheet, general assembly, 12 November”.": (
        "Gardé dans l’historique du consentement, par exemple « feuille d’inscription, "
        "assemblée générale du 12 novembre »."
    ),
    "Say where this person agreed to receive it.": (
        "Indiquez où cette personne a accepté de recevoir vos envois."
    ),
    # Notices.
    "The subscriber is added.": "L’abonné·e est ajouté·e.",
    "The preferences are saved.": "Les préférences sont enregistrées.",
    "Mail to this subscriber is paused.": "Les envois à cette personne sont en pause.",
    "Mail to this subscriber goes out again.": "Les envois à cette personne reprennent.",
    "This subscriber is unsubscribed; the address is suppressed.": (
        "Cette personne est désabonnée ; son adresse est bloquée."
    ),
    "The subscriber is erased: only a suppression hash of the address is kept.": (
        "La personne est effacée : seule une empreinte de l’adresse est gardée, pour ne plus "
        "jamais lui écrire."
    ),
    "Import done: %(added)s added, %(skipped)s left as they were (already subscribed, or "
    "suppressed).": (
        "Import terminé : %(added)s ajouté·es, %(skipped)s laissé·es tel quel (déjà abonné·es, "
        "ou adresse bloquée)."
    ),
    # Erasing.
    "Erase this subscriber": "Effacer cette personne",
    "Erasing deletes the person, their preferences and their consent history. Only a hash of "
    "the address is kept, so that nothing is ever sent to it again. This cannot be undone.": (
        "Effacer supprime la personne, ses préférences et l’historique de son consentement. "
        "Seule une empreinte de l’adresse est gardée, pour ne plus jamais lui écrire. C’est "
        "définitif."
    ),
    "Download what is held first if the person asked for a copy.": (
        "Téléchargez d’abord ses données si la personne en a demandé une copie."
    ),
    "Type the address to confirm: %(email)s": "Tapez l’adresse pour confirmer : %(email)s",
    "Type the address exactly as shown to erase it.": (
        "Tapez l’adresse exactement comme elle est affichée pour l’effacer."
    ),
    "Erase for good": "Effacer définitivement",
    "Keep this subscriber": "Garder cette personne",
    # Importing.
    "A CSV file of people who agreed to receive your news: an export of Mailchimp, Brevo or "
    "listmonk, or a sheet of your own with an email column. You will see the first rows and how "
    "the columns are read before anything is added.": (
        "Un fichier CSV de personnes qui ont accepté de recevoir vos nouvelles : un export de "
        "Mailchimp, Brevo ou listmonk, ou un tableau à vous avec une colonne d’adresses. Vous "
        "verrez les premières lignes et la lecture des colonnes avant que rien ne soit ajouté."
    ),
    "CSV file": "Fichier CSV",
    "At most %(mb)s MB.": "%(mb)s Mo au plus.",
    "Upload and preview": "Envoyer et prévisualiser",
    "Choose a CSV file.": "Choisissez un fichier CSV.",
    "The file is larger than %(mb)s MB: split it into several files.": (
        "Le fichier dépasse %(mb)s Mo : découpez-le en plusieurs fichiers."
    ),
    "Check the import": "Vérifier l’import",
    "Start again with another file": "Recommencer avec un autre fichier",
    "This file looks like %(kind)s: %(count)s row.": (
        "Ce fichier ressemble à %(kind)s : %(count)s ligne."
    ),
    "This file looks like %(kind)s: %(count)s rows.": (
        "Ce fichier ressemble à %(kind)s : %(count)s lignes."
    ),
    "a Mailchimp export": "un export Mailchimp",
    "a Brevo export": "un export Brevo",
    "a listmonk export": "un export listmonk",
    "a dispatch export": "un export dispatch",
    "a file of its own kind": "un fichier d’un format à lui",
    "Its columns are separated by semicolons.": (
        "Ses colonnes sont séparées par des points-virgules."
    ),
    "%(count)s row cannot be imported; nothing was added.": (
        "%(count)s ligne ne peut pas être importée ; rien n’a été ajouté."
    ),
    "%(count)s rows cannot be imported; nothing was added.": (
        "%(count)s lignes ne peuvent pas être importées ; rien n’a été ajouté."
    ),
    "line %(line)s%(who)s: %(reason)s": "ligne %(line)s%(who)s : %(reason)s",
    # Why a line of an import is left out
    "the address has accented letters before the @, which this mail server cannot deliver to": (
        "l’adresse a des lettres accentuées avant le @, que ce serveur d’envoi ne sait pas livrer"
    ),
    "this is not an email address one can write to": (
        "ce n’est pas une adresse email à laquelle on peut écrire"
    ),
    "the name is too long or holds a line break": (
        "le nom est trop long ou contient un retour à la ligne"
    ),
    "the language is « %(value)s »: fr or en": "la langue est « %(value)s » : fr ou en",
    "the topics cannot be read: topic:frequency pairs, e.g. blog:weekly": (
        "les thèmes sont illisibles : des paires thème:rythme, par exemple blog:weekly"
    ),
    "unknown topic %(topics)s (known: %(known)s)": "thème inconnu %(topics)s (connus : %(known)s)",
    "same address as line %(line)s": "même adresse qu’à la ligne %(line)s",
    "a cell is %(length)s characters long, over %(most)s": (
        "une cellule fait %(length)s caractères, plus de %(most)s"
    ),
    "this line cannot be read (a stray quote?)": (
        "cette ligne est illisible (un guillemet en trop ?)"
    ),
    "already a subscriber": "déjà abonné·e",
    "the letter column says yes or no (oui or non)": (
        "la colonne de la lettre dit oui ou non (yes ou no)"
    ),
    "The letter (yes or no; empty: yes)": "La lettre (oui ou non ; vide : oui)",
    "This address is already a subscriber.": "Cette adresse est déjà abonnée.",
    "This address asked never to be mailed again: only the person can subscribe again, from "
    "the form, with a confirmation.": (
        "Cette adresse a demandé à ne plus jamais recevoir de message : seule la personne peut "
        "se réabonner, depuis le formulaire, avec une confirmation."
    ),
    "not added back: this person unsubscribed": "pas réinscrit·e : cette personne s’est désabonnée",
    "not added back: mail to this address bounced": (
        "pas réinscrit·e : les envois à cette adresse ont échoué"
    ),
    "not added back: this person reported a letter as spam": (
        "pas réinscrit·e : cette personne a signalé une lettre comme spam"
    ),
    "not added back: this person asked to be erased": (
        "pas réinscrit·e : cette personne a demandé son effacement"
    ),
    "not added back: removed after a long silence": (
        "pas réinscrit·e : retiré·e après un long silence"
    ),
    "not added back: on the suppression list": "pas réinscrit·e : sur la liste d’exclusion",
    "Correct the file and upload it again, or change how its columns are read below.": (
        "Corrigez le fichier et envoyez-le à nouveau, ou changez plus bas la lecture des colonnes."
    ),
    "The file is ready to import": "Le fichier est prêt à être importé",
    "Nothing is added yet: %(added)s person would be added, %(skipped)s left as they were.": (
        "Rien n’est encore ajouté : %(added)s personne serait ajoutée, %(skipped)s "
        "laissée(s) telle(s) quelle(s)."
    ),
    "Nothing is added yet: %(added)s people would be added, %(skipped)s left as they were.": (
        "Rien n’est encore ajouté : %(added)s personnes seraient ajoutées, %(skipped)s laissées "
        "telles quelles."
    ),
    "The first rows": "Les premières lignes",
    "How the columns are read": "Lecture des colonnes",
    "Recognised from the header; change any that is wrong. A full name is used when there is "
    "one, otherwise first and last names together.": (
        "Reconnue d’après l’en-tête ; corrigez ce qui ne va pas. Le nom complet sert s’il y en "
        "a un, sinon le prénom et le nom ensemble."
    ),
    "No column": "Aucune colonne",
    "First name": "Prénom",
    "Last name": "Nom de famille",
    "Full name": "Nom complet",
    "Language": "Langue",
    "Attributes (JSON, listmonk)": "Attributs (JSON, listmonk)",
    "Topics for rows that name none": "Thèmes des lignes qui n’en donnent pas",
    "Kept in each person's consent history as an import, e.g. “sign-up sheet, general assembly "
    "2026”.": (
        "Gardé dans l’historique du consentement de chaque personne comme un import, par "
        "exemple « feuille d’inscription, assemblée générale 2026 »."
    ),
    "Send each imported person the welcome email": (
        "Envoyer l’email de bienvenue à chaque personne importée"
    ),
    "Off unless you tick it: people who already know you need no welcome.": (
        "Désactivé sauf si vous cochez : les personnes qui vous connaissent déjà n’ont pas "
        "besoin de bienvenue."
    ),
    "Check the file": "Vérifier le fichier",
    "Import these people": "Importer ces personnes",
    "Choose the column that holds the addresses.": "Choisissez la colonne des adresses.",
    "Say where these people agreed to receive it (a form, a sign-up sheet…).": (
        "Indiquez où ces personnes ont accepté de recevoir vos envois (un formulaire, une "
        "feuille d’inscription…)."
    ),
}
