"""Maintain itsm's gettext catalogues with Babel (a development tool; the
engine reads the compiled ``.mo`` with the standard library only).

    python tools/i18n.py extract    # the marked strings of the sources -> engine/locale/itsm.pot
    python tools/i18n.py update     # merge the template into each language's itsm.po
    python tools/i18n.py compile    # itsm.po -> itsm.mo (commit both)
    python tools/i18n.py check      # untranslated, fuzzy or unmarked-in-.po strings: exit 1

Marked strings: the first argument of ``tr(...)`` and ``N_(...)``, the first two of
``ntr(singular, plural, n)`` (a plural message) in engine/,
commands/ and cli.py (engine/web has its own word list, engine/web/i18n.py);
and the help of every command, found by walking the command tree: each
paragraph, option help and metavar (commands/helptext.py says what a unit is);
and the descriptions of engine/schemas/ that a schema finding quotes
(engine.definitions.validate.quoted_descriptions).
"""

from __future__ import annotations

import sys
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

REPO = Path(__file__).resolve().parents[1]
LOCALE = REPO / "engine" / "locale"
DOMAIN = "itsm"
KEYWORDS = {"tr": None, "N_": None, "ntr": (1, 2)}
SOURCES = ("engine", "commands", "cli.py")
SKIP = ("engine/web/",)


def sources() -> list[Path]:
    out: list[Path] = []
    for name in SOURCES:
        path = REPO / name
        out += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [p for p in out if not any(p.relative_to(REPO).as_posix().startswith(s) for s in SKIP)]


def extract() -> Catalog:
    """Every marked string of the sources."""
    template = Catalog(project="itsm", charset="utf-8")
    for path in sources():
        for lineno, message, comments, _context in extract_from_file(
                "python", str(path), keywords=KEYWORDS, comment_tags=("i18n:",)):
            if isinstance(message, tuple):  # ntr(singular, plural, n): a plural message
                message = message if all(message[:2]) else message[0]
            if message:
                template.add(message, locations=[(path.relative_to(REPO).as_posix(), lineno)],
                             auto_comments=comments)
    for message, location in help_messages():
        template.add(message, locations=[location])
    sys.path.insert(0, str(REPO))
    from engine.definitions.validate import quoted_descriptions

    for message, file in quoted_descriptions():  # schema texts a schema finding quotes
        template.add(message, locations=[(f"engine/schemas/{file}", 1)])
    return template


def help_messages() -> list[tuple[str, tuple[str, int]]]:
    """Every text of ``itsm ... --help`` (the msgids commands/helptext.py translates), where it is written."""
    import inspect

    import click

    sys.path.insert(0, str(REPO))
    import cli
    from commands.helptext import help_units, metavar_words

    out: list[tuple[str, tuple[str, int]]] = []

    def walk(cmd: click.Command, parent: click.Context | None) -> None:
        # with the command's settings (the root's -h): click keeps the help option it makes here
        ctx = click.Context(cmd, info_name=cmd.name, parent=parent, **cmd.context_settings)
        fn = inspect.unwrap(cmd.callback) if cmd.callback else None
        where = ("cli.py", 1)
        if fn is not None:
            path = Path(inspect.getsourcefile(fn) or "cli.py").resolve()
            where = ("/".join(path.parts[-2:]) if path.parent.name == "commands" else path.name,
                     fn.__code__.co_firstlineno)
        texts = help_units(inspect.cleandoc(cmd.help or "")) + help_units(inspect.cleandoc(cmd.epilog or ""))
        texts += metavar_words(" ".join(cmd.collect_usage_pieces(ctx)))
        for param in cmd.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                texts += metavar_words(record[0])
            if getattr(param, "help", None):
                texts.append(param.help)
        out.extend((text, where) for text in texts if text)
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub, ctx)

    walk(cli.load_commands(), None)
    out += [(text, ("cli.py", 1)) for _module, text in cli.COMMAND_MODULES.values()]
    return out


def languages() -> list[str]:
    return sorted(p.name for p in LOCALE.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.po").exists())


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(lang: str) -> Catalog:
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def compiled(catalog: Catalog) -> bytes:
    out = BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def messages_of(mo: bytes) -> dict[str, str]:
    """The msgid -> msgstr pairs of a compiled catalogue, as gettext reads them (not its
    bytes: the header and the layout differ between Babel versions)."""
    import gettext

    found = dict(gettext.GNUTranslations(BytesIO(mo))._catalog)  # noqa: SLF001
    found.pop("", None)
    return found


def problems(lang: str, template: Catalog | None = None) -> list[str]:
    """What keeps ``lang``'s catalogue from being complete."""
    template = template or extract()
    catalog = read(lang)
    out = [f"{lang}: untranslated: {m.id!r}" for m in catalog
           if m.id and (not all(m.string) if isinstance(m.string, (tuple, list)) else not m.string)]
    out += [f"{lang}: fuzzy: {m.id!r}" for m in catalog if m.id and m.fuzzy]
    out += [f"{lang}: marked in the sources but not in the .po: {m.id!r} ({m.locations[0][0]})"
            for m in template if m.id and m.id not in catalog]
    mo = po_path(lang).with_suffix(".mo")
    if not mo.exists() or messages_of(mo.read_bytes()) != messages_of(compiled(catalog)):
        out.append(f"{lang}: {mo.relative_to(REPO)} is not the compiled .po (run: python tools/i18n.py compile)")
    return out


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    if cmd == "extract":
        with (LOCALE / f"{DOMAIN}.pot").open("wb") as f:
            write_po(f, extract(), omit_header=False, sort_output=True)
    elif cmd == "update":
        template = extract()
        for lang in languages():
            catalog = read(lang)
            catalog.update(template, no_fuzzy_matching=True)
            with po_path(lang).open("wb") as f:
                write_po(f, catalog, sort_output=True, ignore_obsolete=True, width=100)
    elif cmd == "compile":
        for lang in languages():
            po_path(lang).with_suffix(".mo").write_bytes(compiled(read(lang)))
    elif cmd == "check":
        found = [p for lang in languages() for p in problems(lang)]
        print("\n".join(found) or "catalogues complete")
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
