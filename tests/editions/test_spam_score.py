"""Every template's sample passes SpamAssassin (offline rules) with a score below 1.0."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dispatch.delivery.mime import MessageFactory
from dispatch.editions import compose, samples
from dispatch.editions.views import EditionView
from tests.editions.conftest import ALL_SAMPLES

SPAMASSASSIN = shutil.which("spamassassin")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        SPAMASSASSIN is None, reason="spamassassin is not installed (apt-get install spamassassin)"
    ),
]
_SCORE = re.compile(rb"^X-Spam-Status: \w+, score=(-?[\d.]+)", re.MULTILINE)


def _scores(messages: list[bytes], home: Path) -> list[tuple[float, str]]:
    """SpamAssassin's score and report for each message, in one run (it is slow to start)."""
    assert SPAMASSASSIN is not None
    mbox = b"".join(
        b"From dispatch@localhost Mon Jan  1 00:00:00 2024\n"
        + re.sub(rb"(?m)^From ", b">From ", data.replace(b"\r\n", b"\n"))
        + b"\n"
        for data in messages
    )
    result = subprocess.run(
        [SPAMASSASSIN, "--mbox", "-t", "-L"],
        input=mbox,
        capture_output=True,
        env={**os.environ, "HOME": str(home)},
        timeout=300,
        check=True,
    )
    scores = [float(m) for m in _SCORE.findall(result.stdout)]
    assert len(scores) == len(messages), result.stdout[-2000:]
    # Each message's rule list follows its X-Spam-Status line.
    reports = [r[:1500].decode("utf-8", "replace") for r in _SCORE.split(result.stdout)[2::2]]
    return list(zip(scores, reports, strict=True))


def test_every_template_scores_below_one(rendered_samples, tmp_path):
    factory = MessageFactory(samples.sample_branding(), list_id="lettre.la27eregion.example")
    messages = [factory.build(rendered_samples[key]).data for key in ALL_SAMPLES]
    scores = dict(zip(ALL_SAMPLES, _scores(messages, tmp_path), strict=True))
    too_high = {key: report for key, (score, report) in scores.items() if score >= 1.0}
    assert too_high == {}


def test_spamassassin_notices_a_spammy_message(tmp_path):
    """The check can fail: a shouting, hidden-text message scores far higher."""
    edition = samples.sample_edition("alert", "en")
    spammy = EditionView(
        kind="alert",
        subject="FREE MONEY!!! ACT NOW $$$ 100% GUARANTEED",
        locale="en",
        intro_html="<p>CLICK HERE to claim your FREE CASH prize, no credit check, "
        "100% guaranteed, limited time, act now, viagra, casino, winner!!!</p>",
        items=edition.items,
    )
    compiled = compose.compile_edition(spammy, samples.sample_branding())
    factory = MessageFactory(samples.sample_branding(), list_id="lettre.la27eregion.example")
    data = factory.build(compose.personalise(compiled, samples.sample_recipient("en"))).data
    [(score, _)] = _scores([data], tmp_path)
    assert score >= 1.0
