"""Words of the staff pages in French (the message ids are the English text).

A staff member reads the pages in their own language (fr by default); before login, the
browser's. Ids missing here fall back to the public pages' and the emails' words.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from dispatch.i18n import french_catalog
from dispatch.web.i18n_web import translate as public_translate

STAFF: dict[str, str] = {
    "Staff menu": "Menu de l’équipe",
    "Log out": "Se déconnecter",
    "Home": "Accueil",
    "Editions": "Lettres",
    "Your account": "Votre compte",
    "There is a problem": "Il y a un problème",
    "Error:": "Erreur :",
    "Log in to dispatch": "Se connecter à dispatch",
    "Log in": "Se connecter",
    "Password": "Mot de passe",
    "Forgot your password?": "Mot de passe oublié ?",
    "Enter your email address and your password.": (
        "Saisissez votre adresse email et votre mot de passe."
    ),
    "The address or the password is wrong.": "L’adresse ou le mot de passe est incorrect.",
    "Too many failed attempts. Try again in %(minutes)s minutes, or set a new password from "
    "the link below.": (
        "Trop d’essais manqués. Réessayez dans %(minutes)s minutes, ou choisissez un nouveau "
        "mot de passe avec le lien ci-dessous."
    ),
    "This form has expired. Please send it again.": (
        "Ce formulaire a expiré. Merci de l’envoyer à nouveau."
    ),
    "Second step: your code": "Deuxième étape : votre code",
    "Open your authenticator app and type the 6-digit code it shows for dispatch. No phone at"
    " hand? Type one of your recovery codes instead.": (
        "Ouvrez votre application d’authentification et saisissez le code à 6 chiffres "
        "qu’elle affiche pour dispatch. Pas de téléphone sous la main ? Saisissez plutôt un de "
        "vos codes de secours."
    ),
    "Code": "Code",
    "Continue": "Continuer",
    "That code is not right. Type the code the app shows now.": (
        "Ce code n’est pas le bon. Saisissez le code que l’application affiche maintenant."
    ),
    "Set a new password": "Choisir un nouveau mot de passe",
    "Type the address of your staff account: we will email you a link to set a new password.": (
        "Saisissez l’adresse de votre compte d’équipe : nous vous enverrons par email un lien "
        "pour choisir un nouveau mot de passe."
    ),
    "Send me a link": "M’envoyer un lien",
    "If %(email)s has a staff account, we have sent it a link to set a new password. The link"
    " works once, for %(hours)s hours.": (
        "Si %(email)s a un compte d’équipe, nous lui avons envoyé un lien pour choisir un "
        "nouveau mot de passe. Le lien ne sert qu’une fois, pendant %(hours)s heures."
    ),
    "Back to the login page": "Retour à la page de connexion",
    "This link does not work any more": "Ce lien ne fonctionne plus",
    "A link to set a password works once, and for a limited time. Ask for a new one.": (
        "Un lien pour choisir un mot de passe ne sert qu’une fois, et pour un temps limité. "
        "Demandez-en un nouveau."
    ),
    "Ask for a new link": "Demander un nouveau lien",
    "Choose your password": "Choisissez votre mot de passe",
    "For %(email)s. At least %(length)s characters; a few words you will remember make a good"
    " one.": (
        "Pour %(email)s. Au moins %(length)s caractères ; quelques mots dont vous vous "
        "souviendrez en font un bon."
    ),
    "New password": "Nouveau mot de passe",
    "The same password again": "Le même mot de passe, une seconde fois",
    "Save my password": "Enregistrer mon mot de passe",
    "The two passwords are not the same.": "Les deux mots de passe ne sont pas identiques.",
    "This password cannot be used: at least %(length)s characters.": (
        "Ce mot de passe ne convient pas : au moins %(length)s caractères."
    ),
    "This password cannot be used: too easy to guess.": (
        "Ce mot de passe ne convient pas : trop facile à deviner."
    ),
    "Your password is saved. Log in with it now.": (
        "Votre mot de passe est enregistré. Connectez-vous avec lui maintenant."
    ),
    "You are logged out.": "Vous êtes déconnecté·e.",
    "Enter a valid email address, like name@example.org.": (
        "Saisissez une adresse email valide, comme nom@exemple.org."
    ),
    "Hello %(name)s": "Bonjour %(name)s",
    "You are %(role)s.": "Votre rôle : %(role)s.",
    "owner": "propriétaire",
    "editor": "éditeur ou éditrice",
    "author": "auteur ou autrice",
    "viewer": "lecteur ou lectrice",
    "Role": "Rôle",
    "Language": "Langue",
    "Second factor": "Deuxième facteur",
    "The second factor is on.": "Le deuxième facteur est activé.",
    "Keep these recovery codes somewhere safe: each works once, if you lose your phone. They "
    "are shown only now.": (
        "Gardez ces codes de secours en lieu sûr : chacun sert une fois, si vous perdez votre "
        "téléphone. Ils ne sont affichés que maintenant."
    ),
    "On since %(when)s. You have %(count)s recovery code left.": (
        "Activé depuis le %(when)s. Il vous reste %(count)s code de secours."
    ),
    "On since %(when)s. You have %(count)s recovery codes left.": (
        "Activé depuis le %(when)s. Il vous reste %(count)s codes de secours."
    ),
    "Your password, to turn it off": "Votre mot de passe, pour le désactiver",
    "Turn the second factor off": "Désactiver le deuxième facteur",
    "Scan this code with an authenticator app (FreeOTP, Aegis, Google Authenticator, "
    "1Password…), then type the 6 digits it shows.": (
        "Scannez ce code avec une application d’authentification (FreeOTP, Aegis, Google "
        "Authenticator, 1Password…), puis saisissez les 6 chiffres qu’elle affiche."
    ),
    "Or type this key into the app:": "Ou saisissez cette clé dans l’application :",
    "Code from the app": "Code de l’application",
    "Turn the second factor on": "Activer le deuxième facteur",
    "Off. With it on, logging in also asks for a code from an app on your phone.": (
        "Désactivé. Une fois activé, la connexion demande aussi un code donné par une "
        "application de votre téléphone."
    ),
    "Set up a second factor": "Mettre en place un deuxième facteur",
    "Current password": "Mot de passe actuel",
    "At least %(length)s characters.": "Au moins %(length)s caractères.",
    "Change my password": "Changer mon mot de passe",
    "Changing your password logs you out everywhere, here too.": (
        "Changer de mot de passe vous déconnecte partout, ici aussi."
    ),
    "The current password is wrong.": "Le mot de passe actuel est incorrect.",
    "The password is wrong.": "Le mot de passe est incorrect.",
    "Where you are logged in": "Où vous êtes connecté·e",
    "Your open sessions": "Vos sessions ouvertes",
    "Since": "Depuis",
    "Last seen": "Dernière activité",
    "Browser": "Navigateur",
    "Action": "Action",
    "this one": "celle-ci",
    "Log out there": "Déconnecter",
    "The second factor is off.": "Le deuxième facteur est désactivé.",
    "That session is closed.": "Cette session est fermée.",
    "Kind": "Type",
    "Status": "État",
    "Subject": "Objet",
    "Items": "Contenus",
    "Send at": "Envoi prévu",
    "Preview": "Aperçu",
    "(titled by its template)": "(titre donné par son modèle)",
    "No editions yet.": "Aucune lettre pour l’instant.",
    "Not allowed": "Action non autorisée",
    "Your role does not allow this. Ask an owner of dispatch if you need it.": (
        "Votre rôle ne le permet pas. Demandez à un ou une propriétaire de dispatch si vous en "
        "avez besoin."
    ),
    "Page not found": "Page introuvable",
    "There is nothing at this address.": "Il n’y a rien à cette adresse.",
    "Back to the staff home": "Retour à l’accueil de l’équipe",
    # Kinds and states of editions, as the editions list shows them.
    "Newsletter": "Lettre",
    "Digest": "Récapitulatif",
    "Alert": "Alerte",
    "Event": "Évènement",
    "Draft": "Brouillon",
    "Scheduled": "Programmée",
    "Sending": "En cours d’envoi",
    "Paused": "En pause",
    "Sent": "Envoyée",
    "Cancelled": "Annulée",
}


def _areas() -> dict[str, str]:
    """Each staff area's own words: every module of `dispatch.web.admin.catalogue` with a
    `WORDS` dict (one file per area, so that areas are written side by side)."""
    from dispatch.web.admin import catalogue

    found: dict[str, str] = {}
    for module in sorted(pkgutil.iter_modules(catalogue.__path__), key=lambda m: m.name):
        words = importlib.import_module(f"{catalogue.__name__}.{module.name}").WORDS
        found.update(words)
    return found


STAFF = french_catalog({**_areas(), **STAFF})


def translate(locale: str, msgid: str) -> str:
    """`msgid` in `locale`. "context|Text" is "Text" in English: one English word, two
    French ones ("status|Unsubscribed" is « Désabonné·e », "event|Unsubscribed"
    « Désabonnement »)."""
    text = msgid.partition("|")[2] or msgid
    if locale != "fr":
        return text
    return STAFF.get(msgid) or public_translate(locale, text)


def plural(locale: str, one: str, other: str, count: int) -> str:
    """`one` or `other` for `count`, in `locale` (French says « 0 contenu », « 1 contenu »)."""
    single = count < 2 if locale == "fr" else count == 1
    return translate(locale, one if single else other)


def translator(locale: str) -> Callable[[str], str]:
    return lambda msgid: translate(locale, msgid)
