"""Fill the untranslated entries of a gettext ``.po`` catalog, the way a translator would
want a first draft: machine translations marked ``fuzzy`` for review, and every other
byte of the file left exactly as it was.

The file is cut into entry blocks at blank lines; only the blocks of untranslated
entries are rewritten (their ``msgstr`` lines and flags), each parsed on its own with
polib, so comments, wrapping, ordering and translated entries stay byte-identical.

Example:
    >>> fill_catalog("po/fr.po", "po/fr.po")
    {'entries': 120, 'filled': 17, 'already_translated': 100, 'skipped': 3}
"""

import re

import polib

_FLAGS = re.compile(r"^#,(.*)$")


def _escape(text):
    return (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            .replace("\t", "\\t").replace("\r", "\\r"))


def _blocks(text):
    """Split into blocks separated by blank lines, keeping every separator."""
    return re.split(r"(\n[ \t]*\n+)", text)


def _entry(block):
    """The single entry of a block, or None (header, obsolete or unparsable blocks)."""
    if not block.strip() or all(line.startswith("#~") or not line.strip()
                                for line in block.splitlines()):
        return None
    try:
        catalog = polib.pofile(block + "\n")
    except (OSError, ValueError):
        return None
    entries = [e for e in catalog if not e.obsolete]
    return entries[0] if len(entries) == 1 and entries[0].msgid else None


def _rewrite(block, entry, forms):
    """The block with ``forms`` as msgstr (or msgstr[i]) and the fuzzy flag added."""
    lines = block.split("\n")
    out, in_msgstr, flagged = [], False, False
    for line in lines:
        match = _FLAGS.match(line)
        if match:
            flags = [f.strip() for f in match.group(1).split(",") if f.strip()]
            if "fuzzy" not in flags:
                flags.insert(0, "fuzzy")
            line = "#, " + ", ".join(flags)
            flagged = True
        if line.startswith("msgstr"):
            in_msgstr = True
            continue
        if in_msgstr and line.startswith('"'):
            continue
        in_msgstr = False
        out.append(line)
    if not flagged:
        # Flags go after the comments, right before msgctxt/msgid.
        at = next(i for i, line in enumerate(out) if line.startswith(("msgctxt", "msgid")))
        out.insert(at, "#, fuzzy")
    at = max(i for i, line in enumerate(out) if line.startswith(("msgid", '"'))) + 1
    if entry.msgid_plural:
        new = [f'msgstr[{i}] "{_escape(form)}"' for i, form in enumerate(forms)]
    else:
        new = [f'msgstr "{_escape(forms[0])}"']
    return "\n".join(out[:at] + new + out[at:])


def fill_catalog(path, output=None, model=None, beam_width=None, nplurals=2):
    """Translate the empty msgstr entries of ``path`` into ``output`` (default: in place).

    Plural entries get msgid -> msgstr[0] and msgid_plural -> msgstr[1] (French:
    ``nplurals=2``). Returns counts: entries, filled, already translated, skipped.
    """
    import pipelines

    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    try:
        polib.pofile(text)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path!r} is not a readable .po catalog: {err}") from None
    blocks = _blocks(text)
    todo = []
    report = {"entries": 0, "filled": 0, "already_translated": 0, "skipped": 0}
    for i, block in enumerate(blocks):
        if i % 2:  # separators
            continue
        entry = _entry(block)
        if entry is None:
            continue
        report["entries"] += 1
        if entry.translated() or "fuzzy" in entry.flags:
            report["already_translated"] += 1
            continue
        sources = [entry.msgid] + ([entry.msgid_plural] * (nplurals - 1) if entry.msgid_plural else [])
        todo.append((i, entry, sources))
    texts = [s for _, _, sources in todo for s in sources]
    translations = iter(pipelines.translate(texts, model=model, beam_width=beam_width) if texts else [])
    for i, entry, sources in todo:
        forms = [next(translations) for _ in sources]
        blocks[i] = _rewrite(blocks[i], entry, forms)
        report["filled"] += 1
    with open(output or path, "w", encoding="utf-8", newline="") as f:
        f.write("".join(blocks))
    return report
