"""Editions: the list, composing a letter, previews, test-sends, sending, results."""

WORDS: dict[str, str] = {
    "Recipients": "Destinataires",
    "No.": "N°",
    "%(sent)s sent of %(total)s": "%(sent)s envoyés sur %(total)s",
    "%(count)s failed": "%(count)s en échec",
    "Back to the editions": "Retour aux lettres",
    "There is no such letter.": "Cette lettre n’existe pas.",
    "Edition": "Lettre",
    "Post": "Article",
    "Pick": "Sélection",
    # The form
    "In French": "En français",
    "In English": "En anglais",
    "Leave the subject empty to send English readers the French text.": (
        "Laissez l’objet vide pour envoyer le texte français aux lecteurs anglophones."
    ),
    "Give the English version a subject, or empty its fields: English readers then get the "
    "French letter.": (
        "Donnez un objet à la version anglaise, ou videz ses champs : les lecteurs anglophones "
        "reçoivent alors la lettre en français."
    ),
    "Preheader": "Texte d’aperçu",
    "The line mail apps show after the subject.": (
        "La ligne que les messageries affichent après l’objet."
    ),
    "Introduction": "Introduction",
    "Markdown: *italics*, **bold**, [a link](https://…), a blank line between paragraphs.": (
        "Markdown : *italique*, **gras**, [un lien](https://…), une ligne vide entre les "
        "paragraphes."
    ),
    "Preview the introduction": "Prévisualiser l’introduction",
    "Preview of the French introduction": "Aperçu de l’introduction en français",
    "Preview of the English introduction": "Aperçu de l’introduction en anglais",
    "Only subscribers of the ticked topics receive it; none ticked: every subscriber.": (
        "Seuls les abonné·es des thèmes cochés la reçoivent ; aucun coché : tout le monde."
    ),
    "Tick the items to include. The numbers set their order; the arrows move one up or down.": (
        "Cochez les contenus à inclure. Les numéros fixent leur ordre ; les flèches en montent "
        "ou descendent un."
    ),
    "Items to choose from": "Contenus à choisir",
    "Include": "Inclure",
    "Include %(title)s": "Inclure %(title)s",
    "waits on the desk": "attend au pupitre",
    "New section above it (optional)": "Nouvelle rubrique au-dessus (facultatif)",
    "Its title in English": "Son titre en anglais",
    "Sections: give a title to the item that opens one; the items after it are in it until "
    "the next title. Without any title, the letter groups its items as articles, events and "
    "picks.": (
        "Rubriques : donnez un titre au contenu qui en ouvre une ; les contenus suivants en font "
        "partie jusqu’au titre suivant. Sans aucun titre, la lettre range ses contenus en "
        "articles, évènements et sélections."
    ),
    "A section title is at most 120 characters long.": (
        "Un titre de rubrique fait 120 caractères au plus."
    ),
    "A section has an English title but no French one.": (
        "Une rubrique a un titre en anglais mais pas en français."
    ),
    "Give each section an English title too: English readers get the English version.": (
        "Donnez aussi un titre anglais à chaque rubrique : les lecteurs anglophones reçoivent la "
        "version anglaise."
    ),
    "Order": "Ordre",
    "Position of %(title)s": "Position de %(title)s",
    "Item": "Contenu",
    "Move": "Déplacer",
    "Move %(title)s up": "Monter %(title)s",
    "Move %(title)s down": "Descendre %(title)s",
    "Save the draft": "Enregistrer le brouillon",
    "Write a subject: one line, at most 200 characters.": (
        "Écrivez un objet : une ligne, 200 caractères au plus."
    ),
    "The preheader is one line of at most 200 characters.": (
        "Le texte d’aperçu tient en une ligne de 200 caractères au plus."
    ),
    "The intro is too long or cannot be read as Markdown.": (
        "L’introduction est trop longue ou n’est pas du Markdown lisible."
    ),
    "Choose at least one item.": "Choisissez au moins un contenu.",
    "Too many items for one letter.": "Trop de contenus pour une seule lettre.",
    "Only a draft or a scheduled letter can be changed.": (
        "Seule une lettre en brouillon ou programmée peut être modifiée."
    ),
    "The letter": "La lettre",
    # Who will receive it
    "Who will receive this": "Qui la recevra",
    "%(count)s subscriber, if it went now.": ("%(count)s abonné·e, si elle partait maintenant."),
    "%(count)s subscribers, if it went now.": "%(count)s abonné·es, si elle partait maintenant.",
    "By language": "Par langue",
    "By topic followed": "Par thème suivi",
    "A reader who follows several topics counts in each.": (
        "Une personne qui suit plusieurs thèmes compte dans chacun."
    ),
    "Nobody yet.": "Personne pour l’instant.",
    "For subscribers of:": "Pour les abonné·es de :",
    "Unknown (erased)": "Inconnue (effacé·e)",
    # Previews and tests
    "As this subscriber (optional)": "Comme cet·te abonné·e (facultatif)",
    "%(width)s px: a phone": "%(width)s px : un téléphone",
    "%(width)s px: a desktop": "%(width)s px : un ordinateur",
    "open alone": "ouvrir seul",
    "The letter at %(width)s px": "La lettre à %(width)s px",
    "Send a test": "Envoyer un test",
    "To these staff addresses": "À ces adresses de l’équipe",
    "Send the test": "Envoyer le test",
    "Tick at least one staff address.": "Cochez au moins une adresse de l’équipe.",
    "Test sent to %(address)s.": "Test envoyé à %(address)s.",
    "Not sent to %(address)s: %(why)s": "Non envoyé à %(address)s : %(why)s",
    # Sending
    "Send it": "L’envoyer",
    "Day": "Jour",
    "Time (Paris)": "Heure (Paris)",
    "Schedule…": "Programmer…",
    "Send now…": "Envoyer maintenant…",
    "Each of these asks you to confirm first.": "Chacun vous demande d’abord de confirmer.",
    "Goes out %(when)s.": "Partira le %(when)s.",
    "Was due %(when)s and has not started: are the workers and beat running (dispatch run)?": (
        "Devait partir le %(when)s et n’est pas partie : les workers et beat tournent-ils "
        "(dispatch run) ?"
    ),
    "Pause": "Mettre en pause",
    "Resume": "Reprendre",
    "Cancel the letter": "Annuler la lettre",
    "Schedule this letter?": "Programmer cette lettre ?",
    "Send this letter now?": "Envoyer cette lettre maintenant ?",
    "Cancel this letter?": "Annuler cette lettre ?",
    "It will go out %(when)s to %(count)s subscriber.": (
        "Elle partira le %(when)s, pour %(count)s abonné·e."
    ),
    "It will go out %(when)s to %(count)s subscribers.": (
        "Elle partira le %(when)s, pour %(count)s abonné·es."
    ),
    "It will go out now to %(count)s subscriber. This cannot be undone once they have it.": (
        "Elle part maintenant, pour %(count)s abonné·e. Une fois reçue, on ne peut plus la "
        "reprendre."
    ),
    "It will go out now to %(count)s subscribers. This cannot be undone once they have it.": (
        "Elle part maintenant, pour %(count)s abonné·es. Une fois reçue, on ne peut plus la "
        "reprendre."
    ),
    "%(count)s subscriber who has not received it yet will not.": (
        "%(count)s abonné·e qui ne l’a pas encore reçue ne la recevra pas."
    ),
    "%(count)s subscribers who have not received it yet will not.": (
        "%(count)s abonné·es qui ne l’ont pas encore reçue ne la recevront pas."
    ),
    "A cancelled letter cannot be sent again.": "Une lettre annulée ne peut plus être envoyée.",
    "To confirm, type the number of subscribers: %(count)s": (
        "Pour confirmer, tapez le nombre d’abonné·es : %(count)s"
    ),
    "Type the number of recipients shown above to confirm.": (
        "Tapez le nombre de destinataires indiqué ci-dessus pour confirmer."
    ),
    "Yes, schedule it": "Oui, la programmer",
    "Yes, send it now": "Oui, l’envoyer maintenant",
    "Yes, cancel it": "Oui, l’annuler",
    "No, go back": "Non, revenir",
    "Give a day and a time to send it, in Paris time.": (
        "Indiquez un jour et une heure d’envoi, à l’heure de Paris."
    ),
    "This time is in the past.": "Ce moment est déjà passé.",
    "The letter is saved.": "La lettre est enregistrée.",
    "The letter is scheduled.": "La lettre est programmée.",
    "The letter is going out.": "La lettre part.",
    "Sending is paused.": "L’envoi est en pause.",
    "Sending goes on.": "L’envoi reprend.",
    "The letter is cancelled: what had not gone out will not.": (
        "La lettre est annulée : ce qui n’était pas parti ne partira pas."
    ),
    # Progress and results
    "Messages sent": "Messages envoyés",
    "Still to send": "Restant à envoyer",
    "Failed": "En échec",
    "Rate": "Débit",
    "Estimated end": "Fin estimée",
    "Started": "Commencé",
    "Finished": "Terminé",
    "Results": "Résultats",
    "Results by language": "Résultats par langue",
    "All languages": "Toutes langues",
    "Delivered": "Remises",
    "results|Bounced": "Retours",
    "Complaints": "Plaintes",
    "Unsubscribes": "Désabonnements",
    "Unsubscribes count readers who left after this letter reached them and before any other"
    " did.": (
        "Les désabonnements comptent les personnes parties après avoir reçu cette lettre et "
        "avant toute autre."
    ),
}
