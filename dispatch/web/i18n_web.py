"""Words of the public pages in French and English, and choosing the page's language.

Message ids are the English text; `PAGES` maps them to French. Ids missing here fall back to
the shared catalogue in `dispatch.i18n` (the emails' words), then to the English id itself.
"""

from __future__ import annotations

from collections.abc import Callable

from dispatch import i18n

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"

PAGES: dict[str, str] = {
    # Frame
    "Skip to content": "Aller au contenu",
    "Français": "Français",
    # Archive
    "Past newsletters": "Les lettres précédentes",
    "Follow the newsletters in a feed reader (Atom)": (
        "Suivre les lettres dans un lecteur de flux (Atom)"
    ),
    "No newsletter has been sent yet.": "Aucune lettre n’a encore été envoyée.",
    # Subscribe page
    "Subscribe to our newsletter": "Abonnez-vous à notre lettre d’information",
    "News from %(org)s in your inbox: our articles, our events and the links we pick for you. "
    "You choose the topics and how often.": (
        "Les nouvelles de %(org)s dans votre boîte mail : nos articles, nos évènements et les "
        "liens que nous choisissons pour vous. Vous choisissez les thèmes et le rythme."
    ),
    "Please correct the following:": "Merci de corriger ce qui suit :",
    "Email address": "Adresse email",
    "Name (optional)": "Nom (facultatif)",
    "Topics and frequency": "Thèmes et rythme",
    "For each topic, choose how often you want to hear about it: as soon as it is published, "
    "in a weekly digest, in a monthly digest, or not at all.": (
        "Pour chaque thème, choisissez à quel rythme en entendre parler : dès sa publication, "
        "dans un récapitulatif hebdomadaire, mensuel, ou pas du tout."
    ),
    "Not interested": "Pas intéressé·e",
    "Immediately": "Dès publication",
    "Weekly": "Chaque semaine",
    "Monthly": "Chaque mois",
    "Language of the emails": "Langue des messages",
    "Language of the emails and of this page": "Langue des messages et de cette page",
    "Leave this field empty": "Laissez ce champ vide",
    "We will send you an email to confirm your address. Nothing is sent to you before you "
    "confirm.": (
        "Nous allons vous envoyer un email pour confirmer votre adresse. Vous ne recevrez rien "
        "d’autre avant d’avoir confirmé."
    ),
    "Subscribe": "S’abonner",
    "Already subscribed?": "Déjà abonné·e ?",
    "Every email we send has a link to change your topics, frequency and language, or to "
    "unsubscribe. Lost it? We can email it to you again.": (
        "Chaque message contient un lien pour changer vos thèmes, votre rythme et votre langue, "
        "ou pour vous désabonner. Vous l’avez perdu ? Nous pouvons vous le renvoyer."
    ),
    "Email me my link": "M’envoyer mon lien",
    # Form errors
    "Enter a valid email address, like name@example.org.": (
        "Saisissez une adresse email valide, par exemple nom@example.org."
    ),
    "This address has accented or non-Latin letters before the @, and our mail server cannot "
    "send to such addresses yet. Please use another address.": (
        "Cette adresse contient des lettres accentuées ou non latines avant le @, et notre "
        "serveur de messagerie ne sait pas encore écrire à de telles adresses. Merci "
        "d’utiliser une autre adresse."
    ),
    "The name must be on one line and at most 200 characters long.": (
        "Le nom doit tenir sur une ligne et faire au plus 200 caractères."
    ),
    "Choose a valid frequency for each topic.": "Choisissez un rythme valide pour chaque thème.",
    "Tick the box to agree to receive our emails.": (
        "Cochez la case pour accepter de recevoir nos messages."
    ),
    "This form has expired or was sent from another page. Please send it again.": (
        "Ce formulaire a expiré ou a été envoyé depuis une autre page. Merci de le renvoyer."
    ),
    # After subscribing
    "Check your inbox": "Consultez votre boîte mail",
    "We have sent an email to %(email)s. Open it and follow its link to confirm your "
    "subscription, or to manage it if you were already subscribed.": (
        "Nous avons envoyé un email à %(email)s. Ouvrez-le et suivez son lien pour confirmer "
        "votre abonnement, ou pour le gérer si vous étiez déjà abonné·e."
    ),
    "Nothing after a few minutes? Look in your spam folder. For your protection, we send at "
    "most a few emails per hour to the same address.": (
        "Rien après quelques minutes ? Regardez dans vos indésirables. Pour vous protéger, "
        "nous envoyons au plus quelques messages par heure à une même adresse."
    ),
    "The confirmation link is valid for %(days)s days.": (
        "Le lien de confirmation est valable %(days)s jours."
    ),
    "Back to the subscription page": "Retour à la page d’abonnement",
    # Link request
    "Your link is on its way": "Votre lien est en route",
    "If %(email)s is subscribed, we have sent it an email with a link to manage the "
    "subscription.": (
        "Si %(email)s est abonnée, nous venons d’y envoyer un email avec un lien pour gérer "
        "l’abonnement."
    ),
    # Confirm
    "Confirm your subscription": "Confirmez votre abonnement",
    "Please confirm that you want to receive news from %(org)s at %(email)s.": (
        "Merci de confirmer que vous souhaitez recevoir les nouvelles de %(org)s à l’adresse "
        "%(email)s."
    ),
    "Confirm my subscription": "Je confirme mon abonnement",
    "Subscription confirmed": "Abonnement confirmé",
    "Thank you: your subscription is confirmed. You will receive our news at %(email)s.": (
        "Merci : votre abonnement est confirmé. Vous recevrez nos nouvelles à l’adresse %(email)s."
    ),
    "Change my topics, frequency or language": "Changer mes thèmes, mon rythme ou ma langue",
    "Already confirmed": "Déjà confirmé",
    "Your subscription was already confirmed. There is nothing more to do.": (
        "Votre abonnement était déjà confirmé. Vous n’avez rien d’autre à faire."
    ),
    "Link expired": "Lien expiré",
    "This confirmation link has expired. Please subscribe again: we will send you a new one.": (
        "Ce lien de confirmation a expiré. Abonnez-vous à nouveau : nous vous en enverrons "
        "un nouveau."
    ),
    "Link not valid": "Lien non valide",
    "This link is not valid. It may have been copied incompletely, or the subscription it was "
    "for no longer exists.": (
        "Ce lien n’est pas valide. Il a peut-être été copié incomplètement, ou l’abonnement "
        "auquel il correspondait n’existe plus."
    ),
    "This link is not valid. It may have been copied incompletely.": (
        "Ce lien n’est pas valide. Il a peut-être été copié incomplètement."
    ),
    # Preferences
    "Your subscription": "Votre abonnement",
    "Subscription of %(email)s.": "Abonnement de %(email)s.",
    "Your preferences are saved.": "Vos préférences sont enregistrées.",
    "Take a break": "Faire une pause",
    "Event reminders": "Rappels d’évènements",
    "Remind me of events": "Me rappeler les évènements",
    "A reminder a week before and the day before each event of the topics you follow, with "
    "its calendar file. Whatever you choose, you are told when an event you received changes "
    "or is cancelled.": (
        "Un rappel une semaine avant et la veille de chaque évènement des thèmes que vous "
        "suivez, avec son fichier d’agenda. Quel que soit votre choix, vous êtes prévenu·e si un "
        "évènement que vous avez reçu change ou est annulé."
    ),
    "While paused you receive nothing; you are not unsubscribed.": (
        "Pendant la pause vous ne recevez rien ; vous restez abonné·e."
    ),
    "Keep the pause until %(date)s": "Garder la pause jusqu’au %(date)s",
    "No pause": "Pas de pause",
    "Pause for 1 month": "Pause d’un mois",
    "Pause for 3 months": "Pause de 3 mois",
    "Pause for 6 months": "Pause de 6 mois",
    "Save my preferences": "Enregistrer mes préférences",
    "Unsubscribe from everything": "Me désabonner de tout",
    "To stop one topic only, choose “Not interested” for it above. To receive nothing at all:": (
        "Pour arrêter un seul thème, choisissez « Pas intéressé·e » ci-dessus. Pour ne plus "
        "rien recevoir du tout :"
    ),
    "Your subscription is waiting for your confirmation: follow the link in the email we sent "
    "you.": (
        "Votre abonnement attend votre confirmation : suivez le lien de l’email que nous vous "
        "avons envoyé."
    ),
    "Send me the confirmation email again": "Me renvoyer l’email de confirmation",
    "You are not subscribed any more: we send nothing to this address.": (
        "Vous n’êtes plus abonné·e : nous n’envoyons rien à cette adresse."
    ),
    "Subscribe again": "Me réabonner",
    "We will send you an email to confirm your address first.": (
        "Nous vous enverrons d’abord un email pour confirmer votre adresse."
    ),
    # The letter, a choice beside the topics
    "The letter of %(org)s": "La lettre de %(org)s",
    "Included: our newsletter, a few times a year, with the best of what we publish. Say no "
    "if you only want the topics below.": (
        "Comprise : notre lettre d’information, quelques fois par an, avec le meilleur de ce "
        "que nous publions. Répondez non si vous ne voulez que les thèmes ci-dessous."
    ),
    "Yes, the letter": "Oui, la lettre",
    "No letter": "Pas de lettre",
    "Choose the letter or at least one topic. To receive nothing, unsubscribe instead.": (
        "Choisissez la lettre ou au moins un thème. Pour ne rien recevoir, désabonnez-vous."
    ),
    # Unsubscribe
    "Unsubscribe": "Se désabonner",
    "You will no longer receive any email from %(org)s at %(email)s.": (
        "Vous ne recevrez plus aucun message de %(org)s à l’adresse %(email)s."
    ),
    "Too many emails? You can also choose fewer topics, a digest instead of alerts, or a pause.": (
        "Trop de messages ? Vous pouvez aussi choisir moins de thèmes, un récapitulatif plutôt "
        "que des alertes, ou une pause."
    ),
    "Change my preferences": "Changer mes préférences",
    "You are unsubscribed": "Vous êtes désabonné·e",
    "You are unsubscribed: %(email)s will receive no more emails from us.": (
        "Vous êtes désabonné·e : %(email)s ne recevra plus aucun message de notre part."
    ),
    "Changed your mind? You can subscribe again at any time.": (
        "Vous changez d’avis ? Vous pouvez vous réabonner à tout moment."
    ),
    # Stay subscribed (the re-permission email's page)
    "You stay subscribed": "Vous restez abonné·e",
    "We have not heard from you in a long time. Do you still want to receive news from "
    "%(org)s at %(email)s?": (
        "Nous n’avons pas eu de vos nouvelles depuis longtemps. Voulez-vous toujours recevoir "
        "les nouvelles de %(org)s à l’adresse %(email)s ?"
    ),
    "If you do nothing, your address and everything we hold about you will be deleted 30 days "
    "after our email.": (
        "Si vous ne faites rien, votre adresse et tout ce que nous savons de vous seront "
        "effacés 30 jours après notre message."
    ),
    "Thank you: you stay subscribed, and %(email)s keeps receiving our news. Nothing else "
    "changes.": (
        "Merci : vous restez abonné·e, et %(email)s continue de recevoir nos nouvelles. Rien "
        "d’autre ne change."
    ),
    "This subscription has ended: there is nothing to keep. You can subscribe again at any time.": (
        "Cet abonnement a pris fin : il n’y a rien à garder. Vous pouvez vous réabonner à tout "
        "moment."
    ),
    # Errors
    "Too many requests": "Trop de demandes",
    "Too many forms were sent from your connection in the last hour. Please try again later.": (
        "Trop de formulaires ont été envoyés depuis votre connexion dans la dernière heure. "
        "Merci de réessayer plus tard."
    ),
    "Page not found": "Page introuvable",
    "There is nothing at this address.": "Il n’y a rien à cette adresse.",
    "There is a problem": "Il y a un problème",
    "This address cannot be used this way.": "Cette adresse ne s’utilise pas ainsi.",
}
PAGES = i18n.french_catalog(PAGES)


def normalise(locale: str | None) -> str | None:
    """ "en-GB" → "en"; None when the language is not one we speak."""
    if not locale:
        return None
    short = locale.strip().replace("_", "-").split("-", 1)[0].lower()
    return short if short in LOCALES else None


def negotiate(accept_language: str | None) -> str:
    """The best of fr/en for an Accept-Language header (RFC 9110 q-values); French otherwise."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        locale = normalise(tag)
        if locale is None or quality <= 0:
            continue
        # Higher quality first; among equals, the earlier one.
        candidate = (quality, -position, locale)
        if best is None or candidate > best:
            best = candidate
    return best[2] if best else DEFAULT_LOCALE


def translate(locale: str, msgid: str) -> str:
    if locale != "fr":
        return msgid
    return PAGES.get(msgid) or i18n.CATALOG.get(msgid, msgid)


def translator(locale: str) -> Callable[[str], str]:
    return lambda msgid: translate(locale, msgid)
