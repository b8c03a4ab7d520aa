"""Cleaning rules for software-localisation pairs, each counted in a report.

Applied in order: drop fuzzy, untranslated and empty entries; normalise whitespace and
HTML entities; strip markup tags and keyboard accelerators (``_File``, ``&Open``,
``~Save``) on both sides; protect placeholders (``%s``, ``%1$d``, ``%(name)s``, ``{count}``,
``{0}``, ``$1``, ``${var}``) as numbered tokens ``<ph0>``, ``<ph1>``... aligned between
the two sides (a pair whose placeholders differ is dropped); drop pairs whose target
copies the source, pairs without letters, and duplicates.

Example:
    >>> pairs, report = clean_pairs(read_gettext("apt.mo"))
    >>> report["kept"], report["dropped_fuzzy"]
"""

import collections
import html
import re

PLACEHOLDER = re.compile(
    r"%(?:\d+\$)?[-+ 0#]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|L|q|j|z|t|I64|I32)?[diouxXeEfFgGaAcsSpn%]"
    r"|%\([A-Za-z_][A-Za-z0-9_]*\)[-+ 0#]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]"
    r"|\{[A-Za-z_0-9]*(?:[:!][^{}]*)?\}"
    r"|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[0-9]+|\$[A-Za-z_][A-Za-z0-9_]*"
)
TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
# An accelerator marker directly before a letter, not doubled (&&, __) and not an entity.
ACCELERATOR = re.compile(r"(?<![&_~\w])[&_~](?=[^\W_])")
LETTER = re.compile(r"[^\W\d_]")


def protect_placeholders(source, target):
    """Replace placeholders by ``<phN>``, N counting source occurrences in order.

    The k-th occurrence of a placeholder in the target gets the number of its k-th
    occurrence in the source (printf order for repeated ``%s``; explicit ``%2$s`` or
    ``{name}`` keep their identity wherever the translator moved them). Returns
    ``(source, target)``, or None when the two sides' placeholders differ as multisets
    (a translation that drops or invents one is not a safe training pair). ``%%`` -> ``%``.
    """
    src_ph = [m.group(0) for m in PLACEHOLDER.finditer(source) if m.group(0) != "%%"]
    tgt_ph = [m.group(0) for m in PLACEHOLDER.finditer(target) if m.group(0) != "%%"]
    if collections.Counter(src_ph) != collections.Counter(tgt_ph):
        return None
    numbers = collections.defaultdict(list)
    for i, ph in enumerate(src_ph):
        numbers[ph].append(i)

    def sub(text):
        used = collections.Counter()

        def token(match):
            ph = match.group(0)
            if ph == "%%":
                return "%"
            used[ph] += 1
            return f"<ph{numbers[ph][used[ph] - 1]}>"

        return PLACEHOLDER.sub(token, text)

    return sub(source), sub(target)


def strip_markup(text):
    return TAG.sub("", text)


def strip_accelerators(text):
    return ACCELERATOR.sub("", text).replace("&&", "&").replace("__", "_")


def normalise(text):
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def word_count(text):
    return len(text.split())


def is_sentence(text, min_words=3, max_words=30):
    """A 'sentence' as opposed to a short UI label: 3-30 words."""
    return min_words <= word_count(text) <= max_words


def clean_pairs(entries):
    """Apply the rules above; returns ``(pairs, report)`` with a count per rule."""
    report = collections.Counter(input=len(entries))
    seen = set()
    kept = []
    for e in entries:
        src, tgt = e.get("source") or "", e.get("target") or ""
        if e.get("fuzzy"):
            report["dropped_fuzzy"] += 1
            continue
        if not tgt.strip():
            report["dropped_untranslated"] += 1
            continue
        if not src.strip():
            report["dropped_empty_source"] += 1
            continue
        src, tgt = normalise(src), normalise(tgt)
        stripped = (strip_accelerators(strip_markup(src)), strip_accelerators(strip_markup(tgt)))
        if stripped != (src, tgt):
            report["changed_markup_or_accelerators"] += 1
        src, tgt = (normalise(s) for s in stripped)
        protected = protect_placeholders(src, tgt)
        if protected is None:
            report["dropped_placeholder_mismatch"] += 1
            continue
        src, tgt = protected
        if not LETTER.search(src) or not LETTER.search(tgt):
            report["dropped_no_letters"] += 1
            continue
        if src == tgt:
            report["dropped_identical_copy"] += 1
            continue
        if (src, tgt) in seen:
            report["dropped_duplicate"] += 1
            continue
        seen.add((src, tgt))
        kept.append({**{k: v for k, v in e.items() if k not in ("source", "target")},
                     "source": src, "target": tgt})
    report["kept"] = len(kept)
    return kept, dict(report)
