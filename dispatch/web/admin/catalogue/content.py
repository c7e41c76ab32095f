"""Items, picks, sources and topics (and what their lists share: pages, filters)."""

WORDS: dict[str, str] = {
    "event on %(day)s": "évènement le %(day)s",
    # Lists
    "Newest first": "Les plus récents",
    "Older": "Plus anciens",
    "Pages": "Pages",
    "Cancel": "Annuler",
    "Filter": "Filtrer",
    "Show everything": "Tout afficher",
    "Search": "Chercher",
    "Actions": "Actions",
    "Address": "Adresse",
    "When": "Quand",
    "Topic": "Thème",
    "Source": "Source",
    "Title": "Titre",
    # Items
    "Filter the items": "Filtrer les contenus",
    "Words in the title or address": "Mots du titre ou de l’adresse",
    "All kinds": "Tous les types",
    "All topics": "Tous les thèmes",
    "All sources": "Toutes les sources",
    "Published from": "Publiés à partir du",
    "Published until": "Publiés jusqu’au",
    "Published": "Publication",
    "withdrawn": "retiré",
    "No item matches.": "Aucun contenu ne correspond.",
    "Post": "Article",
    "Pick": "Sélection",
    "Added by hand": "Ajouté à la main",
    "Back to the items": "Retour aux contenus",
    "Decide on the desk": "Décider sur le pupitre",
    "First seen": "Vu pour la première fois",
    "Event starts": "Début de l’évènement",
    "Comment": "Commentaire",
    "Excerpt": "Extrait",
    "Image": "Image",
    "Where it went": "Où il est allé",
    "Not announced yet: alerts and social posts are prepared at the next tick.": (
        "Pas encore annoncé : les alertes et les publications sociales sont préparées au "
        "prochain passage."
    ),
    "Already online when its source was added: recorded without alerts or social posts.": (
        "Déjà en ligne quand sa source a été ajoutée : enregistré sans alerte ni publication "
        "sociale."
    ),
    "Emails that carry it": "Les emails qui le contiennent",
    "Channel": "Canal",
    "Recipients": "Destinataires",
    "Readers who got this item": "Lecteurs et lectrices qui l’ont reçu",
    "%(n)s reader received it.": "%(n)s personne l’a reçu.",
    "%(n)s readers received it, each once.": "%(n)s personnes l’ont reçu, chacune une fois.",
    "No alert, digest or letter has carried it yet.": (
        "Aucune alerte, aucun récapitulatif ni aucune lettre ne l’a encore contenu."
    ),
    "Social posts": "Publications sociales",
    "Account": "Compte",
    "No social post announces it.": "Aucune publication sociale ne l’annonce.",
    "Letter": "Lettre",
    "Event mail": "Email d’évènement",
    "Waiting for approval": "En attente de validation",
    "Approved": "Validée",
    "Posted": "Publiée",
    # Picks
    "Add a pick": "Ajouter une sélection",
    "Add the pick": "Ajouter la sélection",
    "Change the pick": "Modifier la sélection",
    "Save the pick": "Enregistrer la sélection",
    "Delete this pick": "Supprimer cette sélection",
    "Delete this pick?": "Supprimer cette sélection ?",
    "Delete the pick": "Supprimer la sélection",
    "Address of the page": "Adresse de la page",
    "The article, video or podcast you recommend.": (
        "L’article, la vidéo ou le podcast que vous recommandez."
    ),
    "Tag": "Étiquette",
    "#onaime, #controverse, #mustread, or another topic.": (
        "#onaime, #controverse, #mustread, ou un autre thème."
    ),
    "Your comment": "Votre commentaire",
    "A sentence or two: why readers should look at it.": (
        "Une phrase ou deux : pourquoi les lecteurs et lectrices devraient y jeter un œil."
    ),
    "Image address (optional)": "Adresse de l’image (facultatif)",
    "Text alternative of the image": "Texte alternatif de l’image",
    "Needed with an image: what it shows, for readers who do not see it.": (
        "Nécessaire avec une image : ce qu’elle montre, pour les personnes qui ne la voient pas."
    ),
    "The pick is added.": "La sélection est ajoutée.",
    "The pick is saved.": "La sélection est enregistrée.",
    "The pick is deleted.": "La sélection est supprimée.",
    "The pick already went out, so it is withdrawn: what was sent still shows it, nothing "
    "new will.": (
        "La sélection a déjà été envoyée, elle est donc retirée : ce qui a été envoyé la "
        "montre toujours, rien de nouveau ne la contiendra."
    ),
    "If it already went out in an edition or a post, it is withdrawn instead: what was sent "
    "still shows it, nothing new will.": (
        "Si elle a déjà été envoyée dans une lettre ou une publication, elle est retirée à la "
        "place : ce qui a été envoyé la montre toujours, rien de nouveau ne la contiendra."
    ),
    "Enter the address of the page, starting with https://.": (
        "Saisissez l’adresse de la page, commençant par https://."
    ),
    "Enter a title.": "Saisissez un titre.",
    "Choose a tag.": "Choisissez une étiquette.",
    "Choose a tag from the list.": "Choisissez une étiquette dans la liste.",
    "Enter the address of the image, starting with https://.": (
        "Saisissez l’adresse de l’image, commençant par https://."
    ),
    "Describe the image for readers who do not see it (its text alternative).": (
        "Décrivez l’image pour les personnes qui ne la voient pas (son texte alternatif)."
    ),
    "This cannot be saved: %(reason)s": "Impossible d’enregistrer : %(reason)s",
    "This address is already a pick.": "Cette adresse est déjà une sélection.",
    # Sources
    "The feeds and sites dispatch reads; each new item can go out as an alert, in digests "
    "and letters, and on social networks.": (
        "Les flux et les sites que dispatch lit ; chaque nouveau contenu peut partir en "
        "alerte, dans les récapitulatifs et les lettres, et sur les réseaux sociaux."
    ),
    "RSS feed": "Flux RSS",
    "Atom feed": "Flux Atom",
    "WordPress site": "Site WordPress",
    "iCal calendar": "Agenda iCal",
    "Last read": "Dernière lecture",
    "Result": "Résultat",
    "paused": "en pause",
    "Rules:": "Règles :",
    "Events:": "Évènements :",
    "The site has no events calendar.": "Le site n’a pas d’agenda d’évènements.",
    "Problem:": "Problème :",
    "(%(n)s reads in a row)": "(%(n)s lectures de suite)",
    "Read now": "Lire maintenant",
    "Pause": "Mettre en pause",
    "Resume": "Reprendre",
    "Remove": "Retirer",
    "No sources yet.": "Aucune source pour l’instant.",
    "Add a source": "Ajouter une source",
    "Add the source": "Ajouter la source",
    "Address of the feed or site": "Adresse du flux ou du site",
    "For a WordPress site, its home page address.": (
        "Pour un site WordPress, l’adresse de sa page d’accueil."
    ),
    "Name (optional)": "Nom (facultatif)",
    "Topics of its items": "Thèmes de ses contenus",
    "Minutes between reads": "Minutes entre deux lectures",
    "Category → topic rules (optional)": "Règles catégorie → thème (facultatif)",
    "One a line, as: Évènements = events. Items in that category on the site get that topic.": (
        "Une par ligne, sous la forme : Évènements = events. Les contenus de cette catégorie "
        "sur le site reçoivent ce thème."
    ),
    "Rules for every source": "Règles pour toutes les sources",
    "Remove the rule": "Retirer la règle",
    "None yet.": "Aucune pour l’instant.",
    "Category or tag on the site": "Catégorie ou étiquette sur le site",
    "Topic it gives": "Thème donné",
    "Add the rule": "Ajouter la règle",
    "Back to the sources": "Retour aux sources",
    "Remove this source?": "Retirer cette source ?",
    "Remove the source": "Retirer la source",
    "It is no longer read. The items it brought stay, with the editions and posts that "
    "carried them; adding it again later brings it back.": (
        "Elle n’est plus lue. Les contenus qu’elle a apportés restent, avec les lettres et "
        "publications qui les ont portés ; l’ajouter à nouveau plus tard la fait revenir."
    ),
    "The source is added: it is read within a minute.": (
        "La source est ajoutée : elle sera lue d’ici une minute."
    ),
    "The source is being read now; reload this page in a moment for the result.": (
        "La source est en cours de lecture ; rechargez cette page dans un instant pour voir "
        "le résultat."
    ),
    "The source is already being read; reload this page in a moment for the result.": (
        "La source est déjà en cours de lecture ; rechargez cette page dans un instant pour "
        "voir le résultat."
    ),
    "The source is paused: it is not read until you resume it.": (
        "La source est en pause : elle n’est plus lue tant que vous ne la reprenez pas."
    ),
    "The source is resumed: it is read within a minute.": (
        "La source reprend : elle sera lue d’ici une minute."
    ),
    "The source is removed. Its items stay, with what was sent.": (
        "La source est retirée. Ses contenus restent, avec ce qui a été envoyé."
    ),
    "The rule is added: new and edited items follow it.": (
        "La règle est ajoutée : les contenus nouveaux ou modifiés la suivent."
    ),
    "The rule is removed.": "La règle est retirée.",
    "Not read yet.": "Pas encore lue.",
    "Nothing new since the read before.": "Rien de nouveau depuis la lecture précédente.",
    "every %(n)s min": "toutes les %(n)s min",
    "%(n)s new": "%(n)s nouveaux",
    "%(n)s updated": "%(n)s mis à jour",
    "%(n)s unchanged": "%(n)s inchangés",
    "%(n)s taken offline": "%(n)s retirés du site",
    "%(n)s events changed or cancelled": "%(n)s évènements modifiés ou annulés",
    "%(n)s skipped": "%(n)s ignorés",
    "The site's name is not found: check the address.": (
        "Le nom du site est introuvable : vérifiez l’adresse."
    ),
    "The site took too long to answer.": "Le site a mis trop de temps à répondre.",
    "The site does not answer.": "Le site ne répond pas.",
    "The site's secure connection (certificate) is broken.": (
        "La connexion sécurisée du site (son certificat) est défectueuse."
    ),
    "The address is not found on the site (error 404).": (
        "L’adresse est introuvable sur le site (erreur 404)."
    ),
    "The site says this address is gone (error 410).": (
        "Le site indique que cette adresse n’existe plus (erreur 410)."
    ),
    "The site asks for a login (error 401).": "Le site demande une connexion (erreur 401).",
    "The site refuses to be read (error 403).": "Le site refuse d’être lu (erreur 403).",
    "The site has a problem of its own (server error).": (
        "Le site a un problème de son côté (erreur du serveur)."
    ),
    "The site asks to be read less often (error 429).": (
        "Le site demande à être lu moins souvent (erreur 429)."
    ),
    "The address shows a web page, not a feed: look for its RSS link.": (
        "L’adresse affiche une page web, pas un flux : cherchez son lien RSS."
    ),
    "What the address gives is not an RSS or Atom feed.": (
        "Ce que donne l’adresse n’est pas un flux RSS ou Atom."
    ),
    "What the address gives is not an iCal calendar.": (
        "Ce que donne l’adresse n’est pas un agenda iCal."
    ),
    "The site does not answer like a WordPress site.": (
        "Le site ne répond pas comme un site WordPress."
    ),
    "The feed is too large to read.": "Le flux est trop volumineux pour être lu.",
    "This address may not be read (a private or local address).": (
        "Cette adresse ne peut pas être lue (adresse privée ou locale)."
    ),
    "Reading it stopped the worker several times.": (
        "Sa lecture a arrêté le processus de travail plusieurs fois."
    ),
    "The last read failed.": "La dernière lecture a échoué.",
    "Enter the address of the feed, starting with https://.": (
        "Saisissez l’adresse du flux, commençant par https://."
    ),
    "Choose what kind of source it is.": "Choisissez le type de source.",
    "Enter a number of minutes, 1 or more.": "Saisissez un nombre de minutes, 1 ou plus.",
    "Write one rule a line, as: category = topic (%(line)s)": (
        "Écrivez une règle par ligne, sous la forme : catégorie = thème (%(line)s)"
    ),
    "Enter the category or tag as the site names it.": (
        "Saisissez la catégorie ou l’étiquette comme le site la nomme."
    ),
    "This source is already in the list.": "Cette source est déjà dans la liste.",
    "Choose a topic from the list.": "Choisissez un thème dans la liste.",
    "This category already has a rule.": "Cette catégorie a déjà une règle.",
    "A rule names a topic that does not exist: %(reason)s": (
        "Une règle nomme un thème qui n’existe pas : %(reason)s"
    ),
    # Topics
    "Subscribers choose the topics they follow; items and picks carry them; social posts "
    "use their hashtags.": (
        "Les abonné·es choisissent les thèmes qu’ils et elles suivent ; contenus et sélections "
        "les portent ; les publications sociales utilisent leurs mots-dièse."
    ),
    "Order": "Ordre",
    "Name in French": "Nom en français",
    "Name in English": "Nom en anglais",
    "Hashtag": "Mot-dièse",
    "Hashtag (optional)": "Mot-dièse (facultatif)",
    "Short name": "Nom court",
    "No topics yet.": "Aucun thème pour l’instant.",
    "Add a topic": "Ajouter un thème",
    "Add the topic": "Ajouter le thème",
    "Letters, digits, - or _, e.g. events. It cannot change later.": (
        "Lettres, chiffres, - ou _, par exemple events. Il ne pourra plus changer."
    ),
    "Used on social networks; by default # and the short name.": (
        "Utilisé sur les réseaux sociaux ; par défaut # suivi du nom court."
    ),
    "Back to the topics": "Retour aux thèmes",
    "Smaller numbers come first in the lists subscribers see.": (
        "Les plus petits nombres viennent en premier dans les listes que voient les abonné·es."
    ),
    "Save the topic": "Enregistrer le thème",
    "Remove the topic": "Supprimer le thème",
    "It cannot be removed now:": "Il ne peut pas être supprimé maintenant :",
    "Removing it would silently change what these people and items have. Rename it instead, "
    "or move them to another topic first.": (
        "Le supprimer changerait sans prévenir ce qu’ont ces personnes et ces contenus. "
        "Renommez-le plutôt, ou déplacez-les d’abord vers un autre thème."
    ),
    "Nothing uses this topic: it can be removed.": (
        "Rien n’utilise ce thème : il peut être supprimé."
    ),
    "Nothing uses this topic.": "Rien n’utilise ce thème.",
    "The topic is added.": "Le thème est ajouté.",
    "The topic is saved.": "Le thème est enregistré.",
    "The topic is removed.": "Le thème est supprimé.",
    "%(n)s subscribers follow it": "%(n)s abonné·es le suivent",
    "%(n)s items carry it": "%(n)s contenus le portent",
    "%(n)s sources give it to their items": "%(n)s sources le donnent à leurs contenus",
    "%(n)s WordPress sites give it to their events": (
        "%(n)s sites WordPress le donnent à leurs évènements"
    ),
    "%(n)s category rules lead to it": "%(n)s règles de catégorie y mènent",
    "%(n)s social accounts post it": "%(n)s comptes sociaux le publient",
    "Use letters, digits, - or _ (it appears in addresses).": (
        "Utilisez des lettres, des chiffres, - ou _ (il apparaît dans des adresses)."
    ),
    "Enter the French name.": "Saisissez le nom en français.",
    "Enter the English name.": "Saisissez le nom en anglais.",
    "Enter a whole number.": "Saisissez un nombre entier.",
    "A topic with this short name already exists.": "Un thème a déjà ce nom court.",
    "This topic cannot be removed while something uses it.": (
        "Ce thème ne peut pas être supprimé tant que quelque chose l’utilise."
    ),
}
