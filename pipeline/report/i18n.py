"""The report's languages: one message catalogue per language, and the formats that go with it.

The catalogues are ``messages/<lang>.yaml`` inside the package (read through
importlib.resources, so an installed wheel has them): every sentence, title, column header and
figure label of the report, and the display names of codes found in the data (tiers, life
stages, channels, contribution components, link types, roles). Keys are the same in every
language (tests/test_report.py). A sentence may carry simple markup (``<b>``); the values
put into it are escaped.
"""

from __future__ import annotations

import string
from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from markupsafe import Markup

from pipeline.report import fmt

LANGUAGES = ("en", "zh")
"""The languages of the report (``report.lang``, ``cvp report --lang``)."""

HTML_LANG = {"en": "en", "zh": "zh-CN"}
"""The page's ``<html lang>`` per language."""


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = str(value)
    return out


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The messages of ``lang``, flattened to dotted keys (``tiers.title``)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown report language {lang!r}; known: {', '.join(LANGUAGES)}")
    text = (files("pipeline.report") / "messages" / f"{lang}.yaml").read_text(encoding="utf-8")
    return _flatten(yaml.safe_load(text))


def placeholders(message: str) -> set[str]:
    """The ``{name}`` fields of a message."""
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


class Language:
    """Messages and number formats of one language.

    ``lang("tiers.title")`` gives HTML-safe text (the values escaped, the catalogue's own
    markup kept); ``lang.plain(...)`` the same as plain text, for figures.
    """

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.html_lang = HTML_LANG[lang]
        self.messages = catalogue(lang)

    def __call__(self, key: str, **values: Any) -> Markup:
        return Markup(self.messages[key]).format(**values)

    def plain(self, key: str, **values: Any) -> str:
        """The message as plain text (figure labels): markup-free by convention."""
        return self.messages[key].format(**values)

    def n(self, noun: str, n: int) -> str:
        """``1 customer``, ``2 customers``: the catalogue's ``n.<noun>.one`` / ``.other``."""
        form = "one" if n == 1 else "other"
        return self.messages[f"n.{noun}.{form}"].format(n=fmt.count(n))

    def code(self, kind: str, value: Any) -> str:
        """The display name of a code of the data (``tier``, ``life_stage``, ...); the code
        itself when the catalogue has no name for it (a tier added in the config)."""
        if value is None:
            return "—"
        return self.messages.get(f"{kind}.{value}", str(value))

    def in_sentence(self, name: str) -> str:
        """A name as it reads inside a sentence: English lowercases ``Counter``."""
        return name.lower() if self.lang == "en" else name

    def join(self, items: list[str], sep: str = "comma") -> str:
        """Items joined by the language's list separator (``common.comma`` or ``common.semicolon``):
        ``a, b`` in English, ``a、b`` in Chinese."""
        return self.messages[f"common.{sep}"].join(items)

    def cny_short(self, value: Any, unit: bool = True) -> str:
        return fmt.cny_short(value, unit, self.lang)
