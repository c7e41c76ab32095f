"""The staff pages' words: one French text per English one, every phrase of the templates
translated, contexts and plurals."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from dispatch.web.admin import catalogue
from dispatch.web.admin.words import STAFF, plural, translate
from dispatch.web.i18n_web import translate as public_translate

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "web" / "admin"
_PHRASE = re.compile(r"""_n?\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def test_no_english_phrase_has_two_french_ones() -> None:
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for module in pkgutil.iter_modules(catalogue.__path__):
        words = importlib.import_module(f"{catalogue.__name__}.{module.name}").WORDS
        for msgid, french in words.items():
            if msgid in seen and seen[msgid][1] != french:
                clashes.append((msgid, seen[msgid], (module.name, french)))
            seen.setdefault(msgid, (module.name, french))
    assert clashes == [], "give one of them a context ('status|Active')"


def test_every_phrase_of_the_staff_templates_is_in_french() -> None:
    missing = set()
    for path in TEMPLATES.glob("*.html"):
        for double, single in _PHRASE.findall(path.read_text(encoding="utf-8")):
            msgid = double or single
            text = msgid.partition("|")[2] or msgid
            if msgid not in STAFF and public_translate("fr", text) == text:
                missing.add((path.name, msgid))
    assert sorted(missing) == []


def test_a_context_is_french_only_and_plurals_follow_each_language() -> None:
    assert translate("fr", "status|Unsubscribed") == "Désabonné·e"
    assert translate("fr", "event|Unsubscribed") == "Désabonnement"
    assert translate("en", "status|Unsubscribed") == "Unsubscribed"
    one, other = "%(count)s item waits for a decision.", "%(count)s items wait for a decision."
    assert plural("fr", one, other, 1) == "%(count)s contenu attend une décision."
    assert plural("fr", one, other, 0) == "%(count)s contenu attend une décision."
    assert plural("fr", one, other, 2) == "%(count)s contenus attendent une décision."
    assert plural("en", one, other, 0) == other
