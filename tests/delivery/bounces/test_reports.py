"""Bounce and complaint classification over messages captured from real mail servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.delivery import verp
from dispatch.delivery.bounces.reports import BounceKind, classify

FIXTURES = Path(__file__).parents[2] / "fixtures" / "delivery"
SECRET = "test-verp-secret"
DOMAIN = "lettre.la27eregion.fr"

HARD, SOFT = BounceKind.HARD, BounceKind.SOFT

# file → (kind, the addresses that kind applies to, enhanced status if the bounce gives one)
EXPECTED = {
    "dsn_01": (SOFT, ["JimmyMcEgypt@go.com"], "5.0.0"),  # 5.0.0 "recipient reached disk quota"
    "dsn_02": (SOFT, ["zzzzz@zeus.hud.ac.uk"], "4.4.7"),  # X.400 gateway, gave up on timeout
    "dsn_03": (HARD, ["ddd.kkk@advalvas.be"], None),  # Status: 553 (no enhanced code)
    "dsn_04": (HARD, ["max.haas@unibas.ch"], "5.0.0"),  # Original-Recipient, not Final
    "dsn_05": (SOFT, ["pkocmid@atlas.cz"], "4.4.1"),  # Action: delayed
    "dsn_06": (SOFT, ["hao-nghi.au@fr.thalesgroup.com"], "4.4.0"),
    "dsn_07": (SOFT, ["david.farrar@parliament.govt.nz"], "4.4.1"),
    "dsn_08": (SOFT, ["news-list.zope@localhost.bln.innominate.de"], "4.0.0"),
    "dsn_09": (HARD, ["pr@allen-heath.com"], "5.0.0"),
    "dsn_10": (HARD, ["anne.person@dom.ain"], "5.0.0"),
    "dsn_11": (HARD, ["joem@example.com"], "5.1.1"),
    "dsn_12": (HARD, ["auaauqdgrdz@jtc-con.co.jp"], "5.1.1"),
    "dsn_13": (HARD, ["marcooherbst@cardinal.com"], "5.1.1"),
    "dsn_14": (HARD, ["artboardregistration@home.dk"], "5.1.1"),  # from Diagnostic-Code
    "dsn_15": (HARD, ["horu@ccc-ces.com"], "5.1.1"),
    "dsn_16": (HARD, ["hishealinghand@pastors.com"], "5.0.0"),  # plus one delayed, below
    "dsn_17": (SOFT, ["christine.barsas@sivarikeskus.fi"], "4.3.0"),
    "exim_01": (HARD, ["delangen@its.tudelft.nl"], "5.1.1"),
    "microsoft_01": (HARD, ["DJBENNETT@IKON.COM"], None),
    "microsoft_02": (HARD, ["MDMOORE@BALL.COM"], None),
    "microsoft_03": (HARD, ["midica@banknbr.com"], None),
    "postfix_01": (HARD, ["xxxxx@local.ie"], "5.1.1"),
    "postfix_02": (HARD, ["yyyyy@digicool.com"], None),
    "postfix_03": (HARD, ["ttttt@ggggg.com"], None),
    "postfix_04": (SOFT, ["davidlowie@mail1.keftamail.com"], None),  # "Mail quota exceeded"
    "postfix_05": (HARD, ["bjelf@detectit.net"], None),
    "qmail_01": (HARD, ["psadisc@wwwmail.n-h.de"], None),
    "qmail_02": (SOFT, ["rauschlo@frontfin.com"], None),  # "mailfolder is full"
    "qmail_03": (HARD, ["crown@hbc.co.jp"], "5.1.1"),
    "qmail_04": (HARD, ["merotiia@tennisnsw.com.au"], None),
    "qmail_05": (HARD, ["ivokggrrdvc@caixaforte.freeservers.com"], None),
    "qmail_06": (SOFT, ["ntl@xxx.com"], None),  # "Disk Quota Exceeded"
    "qmail_07": (SOFT, ["user@example.net"], None),  # "mailfolder is full"
    "yahoo_01": (SOFT, ["subscribe.motorcycles@listsociety.com"], "4.4.1"),
    "yahoo_02": (SOFT, ["agarciamartiartu@yahoo.es"], None),  # "over quota"
    "yahoo_03": (HARD, ["cresus22@yahoo.com"], None),  # "account has been disabled"
    "yahoo_04": (SOFT, ["agarciamartiartu@yahoo.es", "open00now@yahoo.co.uk"], None),
    "yahoo_05": (HARD, ["cresus22@yahoo.com", "jjb700@yahoo.com"], None),
    "yahoo_06": (
        HARD,
        [
            "andrew_polevoy@yahoo.com",
            "baruch_sterin@yahoo.com",
            "rjhoeks@yahoo.com",
            "tritonrugger91@yahoo.com",
        ],
        None,
    ),
    "yahoo_07": (
        HARD,
        [
            "mark1960_1998@yahoo.com",
            "ovchenkov@yahoo.com",
            "tsa412@yahoo.com",
            "vaxheadroom@yahoo.com",
        ],
        None,
    ),
    "yahoo_08": (
        HARD,
        [
            "chatrathis@yahoo.com",
            "crownjules01@yahoo.com",
            "cwl_999@yahoo.com",
            "eichaiwiu@yahoo.com",
            "rjhoeks@yahoo.com",
            "yuli_kolesnikov@yahoo.com",
        ],
        None,
    ),
    "yahoo_09": (HARD, ["hankel_o_fung@yahoo.com", "ultravirus2001@yahoo.com"], None),
    "yahoo_10": (
        HARD,
        ["jajcchoo@yahoo.com", "lyons94706@yahoo.com", "turtle4jne@yahoo.com"],
        None,
    ),
}


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_every_captured_bounce_has_an_expectation():
    captured = {p.stem for p in (FIXTURES / "bounces").glob("*.eml")}
    assert captured == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_bounce(name):
    kind, addresses, status = EXPECTED[name]
    report = classify(load(f"bounces/{name}.eml"), verp_secret=SECRET, bounce_domain=DOMAIN)
    assert report is not None
    assert report.kind is kind
    assert [a.lower() for a in report.recipients] == [a.lower() for a in addresses]
    assert report.status == status
    assert report.delivery_id is None  # these were not sent by us


def test_mixed_bounce_keeps_the_delayed_recipient_as_soft():
    report = classify(load("bounces/dsn_16.eml"), verp_secret=SECRET, bounce_domain=DOMAIN)
    assert report is not None
    failures = {f.address: f for f in report.failures}
    assert failures["hishealinghand@pastors.com"].permanent
    assert "unknown user" in failures["hishealinghand@pastors.com"].diagnostic
    assert not failures["spam@michael-mueller-verlag.de"].permanent
    assert failures["spam@michael-mueller-verlag.de"].status == "4.4.7"


def test_a_verp_addressed_dsn_resolves_to_its_delivery():
    report = classify(load("verp/postfix_dsn_verp.eml"), verp_secret=SECRET, bounce_domain=DOMAIN)
    assert report is not None
    assert report.delivery_id == 31337
    assert report.kind is HARD
    assert report.recipients == ("jean.dupont@exemple-collectivite.fr",)
    assert report.status == "5.1.1"
    assert "User unknown in virtual mailbox table" in report.diagnostic


def test_a_verp_address_only_the_secret_holder_made_is_ignored():
    report = classify(load("verp/postfix_dsn_verp.eml"), verp_secret="other", bounce_domain=DOMAIN)
    assert report is not None
    assert report.delivery_id is None
    assert report.recipients == ("jean.dupont@exemple-collectivite.fr",)


def test_a_real_qmail_bounce_sent_to_a_verp_address():
    # The same real bounce, as it arrives when the original was sent with our return path.
    raw = load("bounces/qmail_03.eml")
    address = verp.encode("bounces", DOMAIN, 555, SECRET).encode()
    raw = raw.replace(b"To: gpc-talk-bounces@grizz.org", b"To: " + address, 1)
    report = classify(raw, verp_secret=SECRET, bounce_domain=DOMAIN)
    assert report is not None
    assert (report.delivery_id, report.kind, report.recipients) == (555, HARD, ("crown@hbc.co.jp",))


def test_an_unrecognised_message_to_a_verp_address_counts_as_soft():
    address = verp.encode("bounces", DOMAIN, 9, SECRET)
    raw = (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: {address}\r\n"
        "Subject: Delivery trouble\r\n\r\nSomething happened to your message.\r\n"
    ).encode()
    report = classify(raw, verp_secret=SECRET, bounce_domain=DOMAIN)
    assert report is not None
    assert (report.kind, report.delivery_id, report.recipients) == (SOFT, 9, ())
    assert "Delivery trouble" in report.diagnostic


def test_a_vacation_reply_is_not_a_bounce():
    address = verp.encode("bounces", DOMAIN, 9, SECRET)
    raw = (
        f"From: Claire <claire@example.net>\r\nTo: {address}\r\nAuto-Submitted: auto-replied\r\n"
        "Subject: Absente\r\n\r\nJe suis absente jusqu'au 12 novembre.\r\n"
    ).encode()
    assert classify(raw, verp_secret=SECRET, bounce_domain=DOMAIN) is None


def test_a_message_from_a_person_is_not_a_bounce():
    raw = (
        b"From: Marc <marc@example.net>\r\nTo: lettre@la27eregion.fr\r\n"
        b"Subject: Merci\r\n\r\nBravo pour la lettre.\r\n"
    )
    assert classify(raw, verp_secret=SECRET, bounce_domain=DOMAIN) is None


def test_arf_complaint_with_verp_envelope_sender():
    report = classify(
        load("complaints/arf_abuse_verp.eml"), verp_secret=SECRET, bounce_domain=DOMAIN
    )
    assert report is not None
    assert report.kind is BounceKind.COMPLAINT
    assert report.feedback_type == "abuse"
    assert report.delivery_id == 4242
    assert report.recipients == ("claire.martin@example.net",)


def test_arf_complaint_with_only_the_original_headers():
    # Recipient withheld and envelope sender rewritten: the signed header still matches.
    report = classify(
        load("complaints/arf_headers_only.eml"), verp_secret=SECRET, bounce_domain=DOMAIN
    )
    assert report is not None
    assert report.kind is BounceKind.COMPLAINT
    assert report.delivery_id == 777
    assert report.recipients == ("marc.lefebvre@hotmail.example.com",)


def test_arf_complaint_with_forged_tokens_matches_no_delivery():
    report = classify(load("complaints/arf_forged.eml"), verp_secret=SECRET, bounce_domain=DOMAIN)
    assert report is not None
    assert report.kind is BounceKind.COMPLAINT
    assert report.delivery_id is None
    assert report.recipients == ("someone.else@example.org",)


def test_not_spam_feedback_is_not_a_complaint():
    raw = load("complaints/arf_abuse_verp.eml").replace(
        b"Feedback-Type: abuse", b"Feedback-Type: not-spam"
    )
    assert classify(raw, verp_secret=SECRET, bounce_domain=DOMAIN) is None
