"""Fixtures for email composition tests: sample editions compiled once per session."""

from __future__ import annotations

import pytest

from dispatch.editions import compose, samples
from dispatch.editions.views import EDITION_KINDS

LOCALES = ("fr", "en")
ALL_SAMPLES = [(kind, locale) for kind in EDITION_KINDS for locale in LOCALES]


@pytest.fixture(scope="session")
def compiled_samples() -> dict[tuple[str, str], compose.CompiledEdition]:
    """Every template compiled with sample data, in both languages."""
    branding = samples.sample_branding()
    return {
        (kind, locale): compose.compile_edition(samples.sample_edition(kind, locale), branding)
        for kind, locale in ALL_SAMPLES
    }


@pytest.fixture(scope="session")
def rendered_samples(
    compiled_samples: dict[tuple[str, str], compose.CompiledEdition],
) -> dict[tuple[str, str], compose.RenderedMessage]:
    return {
        key: compose.personalise(compiled, samples.sample_recipient(key[1]))
        for key, compiled in compiled_samples.items()
    }
