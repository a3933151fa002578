"""The translation catalogues: extraction, and the checker that keeps them complete.

``python -m kefu.web.catalogue update`` (``make messages``) extracts every message from the
code and templates into ``locale/messages.pot`` and updates each language's ``.po``.
``python -m kefu.web.catalogue`` prints what is wrong and exits 1; the test suite runs the
same checks. It finds:

- messages in the code or templates (``_()``, ``gettext``, ``ngettext``, ``N_``) that a
  language's catalogue lacks, leaves untranslated or marks fuzzy;
- translations whose ``%(name)s`` placeholders differ from the English;
- text written straight into a template (outside ``_()``), including the human-facing
  attributes ``title``, ``placeholder``, ``aria-label``, ``alt`` and the confirm prompts.
  Key names inside ``<kbd>`` and code inside ``<code>`` are not prose and are allowed.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po
from jinja2 import Environment

from kefu.kit.validators import LANGUAGES
from kefu.web.i18n import LOCALE_DIR

PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATES = PACKAGE / "web" / "templates"
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "NC_": ((1, "c"), 2)}
HUMAN_ATTRIBUTES = {
    "title",
    "placeholder",
    "aria-label",
    "alt",
    "data-confirm",
    "hx-confirm",
    "label",
}
EXEMPT_ELEMENTS = {"kbd", "code", "script", "style"}
LETTER = re.compile(r"[^\W\d_]")
CODE = "\ue000"  # stands for template code ({{ }}, {% %}) while the HTML is read
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@dataclass(frozen=True)
class Finding:
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


OWN_DOMAIN = re.compile(r'^DOMAIN = "(\w+)"', re.MULTILINE)


def _other_domains() -> list[tuple[str, str]]:
    """Modules that keep their strings in a catalogue of their own (``DOMAIN = "webchat"``),
    with everything beside them, are left out of ``messages``."""
    skipped: list[tuple[str, str]] = []
    for path in PACKAGE.rglob("*.py"):
        match = OWN_DOMAIN.search(path.read_text(encoding="utf-8"))
        if match and match.group(1) != "messages":
            skipped.append((f"{path.parent.relative_to(PACKAGE)}/**", "ignore"))
    return skipped


def extracted() -> Catalog:
    """Every message the code and templates ask to translate in the ``messages`` domain."""
    catalog = Catalog()
    methods = _other_domains() + METHODS
    found = extract_from_dir(PACKAGE, methods, OPTIONS, KEYWORDS, strip_comment_tags=True)
    for filename, lineno, message, comments, context in found:
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def read_catalogue(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        return read_po(fp, locale=language)


def _ids(message_id: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return (message_id,) if isinstance(message_id, str) else tuple(message_id)


def untranslated(language: str, wanted: Catalog | None = None) -> list[Finding]:
    """Messages ``language`` lacks or leaves open; English may keep msgstr empty."""
    wanted = wanted or extracted()
    catalogue = read_catalogue(language)
    findings: list[Finding] = []
    for message in wanted:
        if not message.id:
            continue
        key = _ids(message.id)[0]
        have = catalogue.get(key, context=message.context)
        where = f"{language}: {key!r}"
        if have is None:
            findings.append(Finding(where, "missing from the catalogue"))
        elif language != "en" and (have.fuzzy or not all(_ids(have.string or ""))):
            findings.append(Finding(where, "fuzzy or not translated"))
        elif have.string and language != "en":
            findings += _placeholders(where, _ids(message.id), _ids(have.string))
    return findings


def _placeholders(where: str, source: tuple[str, ...], target: tuple[str, ...]) -> list[Finding]:
    names = set(PLACEHOLDER.findall(" ".join(source)))
    for text in target:
        if set(PLACEHOLDER.findall(text)) != names:
            return [Finding(where, f"placeholders differ: {sorted(names)} in the English")]
    return []


class _ProseFinder(HTMLParser):
    """Collects text nodes and human-facing attribute values that contain letters."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._exempt = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in EXEMPT_ELEMENTS:
            self._exempt += 1
        for name, value in attrs:
            if name in HUMAN_ATTRIBUTES and value and LETTER.search(value.replace(CODE, "")):
                self.found.append(f"{name}={value.replace(CODE, '…')}")

    def handle_endtag(self, tag: str) -> None:
        if tag in EXEMPT_ELEMENTS and self._exempt:
            self._exempt -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.replace(CODE, " ").split())
        if not self._exempt and LETTER.search(text):
            self.found.append(text)


def literal_text(source: str) -> list[str]:
    """Prose written into a template outside the translation function."""
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    pieces: list[str] = []
    for _, kind, value in env.lex(source):
        if kind == "data":
            pieces.append(value)
        elif not pieces or pieces[-1] != CODE:
            pieces.append(CODE)
    finder = _ProseFinder()
    finder.feed("".join(pieces))
    finder.close()
    return finder.found


def template_findings() -> list[Finding]:
    findings: list[Finding] = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = str(path.relative_to(TEMPLATES))
        for text in literal_text(path.read_text(encoding="utf-8")):
            findings.append(Finding(name, f"text outside _(): {text[:60]!r}"))
    return findings


def all_findings() -> list[Finding]:
    wanted = extracted()
    findings = template_findings()
    for language in LANGUAGES:
        findings += untranslated(language, wanted)
    return findings


def update() -> list[Path]:
    """Write ``messages.pot`` from the sources and bring every language's ``.po`` up to date
    (new messages added empty, vanished ones dropped); returns the files written."""
    template = extracted()
    template.project, template.version = "kefu", "1"
    written = [LOCALE_DIR / "messages.pot"]
    with written[0].open("wb") as fp:
        write_po(fp, template, width=100, sort_output=True, include_lineno=False)
    for language in LANGUAGES:
        path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
        if path.exists():
            catalogue = read_catalogue(language)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalogue = Catalog(locale=language, project="kefu", version="1")
        catalogue.update(template, no_fuzzy_matching=True)
        with path.open("wb") as fp:
            write_po(
                fp,
                catalogue,
                width=100,
                sort_output=True,
                include_lineno=False,
                omit_header=False,
                ignore_obsolete=True,
            )
        written.append(path)
    return written


def main() -> int:
    if sys.argv[1:] == ["update"]:
        for path in update():
            print(f"wrote {path}")
        return 0
    findings = all_findings()
    for finding in findings:
        print(finding)
    print(f"{len(findings)} problem(s) in the catalogues" if findings else "catalogues complete")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
