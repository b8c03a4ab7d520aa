"""Text normalisation for speech: write text the way a speaker says it.

Numbers, years, ordinals, times, money, percentages, common abbreviations and symbols
are spelled out (``num2words`` does the number words), everything is lower-cased and
only letters, apostrophes and single spaces remain. ``normalize_for_speech`` returns
None for text that cannot be said cleanly (URLs, code, leftover symbols).

Example:
    >>> normalize_for_speech("Dr. Smith paid $5 at 7:30 on May 3rd, 1984.")
    'doctor smith paid five dollars at seven thirty on may third nineteen eighty four'
"""

import re

from num2words import num2words

ABBREVIATIONS = {
    "mr.": "mister", "mrs.": "missus", "ms.": "miz", "dr.": "doctor", "st.": "saint", "jr.": "junior",
    "sr.": "senior", "prof.": "professor", "vs.": "versus", "etc.": "et cetera", "e.g.": "for example",
    "i.e.": "that is", "approx.": "approximately", "no.": "number", "mt.": "mount", "ft.": "feet",
    "lb.": "pounds", "oz.": "ounces", "min.": "minutes", "sec.": "seconds", "hr.": "hours",
}
SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "=": " equals ", "@": " at ", "#": " number "}
_UNSAYABLE = re.compile(
    r"https?://|www\.|\w+\.\w+/|[<>{}\[\]\\|^~`_]|\w@\w|\.\w{2,4}\b(?!\s)"
    r"|\b(?!\d+(?:st|nd|rd|th)\b)(?=\w*[A-Za-z])(?=\w*\d)\w+"  # i18n, mp3, x86 (not 3rd)
    r"|\b[a-z]+[A-Z]\w*|(?:^|\s)--?\w"            # camelCase identifiers, --options
)


def _words(n):
    return num2words(n).replace("-", " ").replace(",", "")


def _year(n):
    return num2words(n, to="year").replace("-", " ").replace(",", "")


def _time(match):
    hour, minute = int(match.group(1)), int(match.group(2))
    suffix = f" {match.group(3)[0]} m" if match.group(3) else ""
    if minute == 0:
        return f"{_words(hour)} o'clock{suffix}"
    minute_words = f"oh {_words(minute)}" if minute < 10 else _words(minute)
    return f"{_words(hour)} {minute_words}{suffix}"


def _money(match):
    whole = int(match.group(1).replace(",", ""))
    cents = int(match.group(2)) if match.group(2) else 0
    text = f"{_words(whole)} dollar{'s' if whole != 1 else ''}"
    if cents:
        text += f" and {_words(cents)} cent{'s' if cents != 1 else ''}"
    return text


def _number(match):
    token = match.group(0).replace(",", "")
    if "." in token:
        whole, frac = token.split(".")
        return f"{_words(int(whole))} point {' '.join(_words(int(d)) for d in frac)}"
    n = int(token)
    if len(token) == 4 and 1100 <= n <= 2099 and "," not in match.group(0):
        return _year(n)
    return _words(n)


def normalize_for_speech(text):
    """Spoken form of ``text`` (lower case, letters/apostrophes/spaces) or None."""
    if _UNSAYABLE.search(text):
        return None
    s = " " + text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"') + " "
    for abbr, full in ABBREVIATIONS.items():
        s = re.sub(r"(?<=[\s(\"'])" + re.escape(abbr) + r"(?=\s)", f" {full} ", s, flags=re.IGNORECASE)
    s = re.sub(r"\b(\d{1,2}):(\d{2})\s*([ap]\.?m\.?)?(?=\W)", _time, s, flags=re.IGNORECASE)
    s = re.sub(r"\$(\d[\d,]*)(?:\.(\d{2}))?", _money, s)
    s = re.sub(r"\b(\d+)(st|nd|rd|th)\b",
               lambda m: num2words(int(m.group(1)), to="ordinal").replace("-", " ").replace(",", ""), s)
    s = re.sub(r"\d[\d,]*(?:\.\d+)?", _number, s)
    for sym, word in SYMBOLS.items():
        s = s.replace(sym, word)
    s = s.lower()
    s = re.sub(r"[-\u2013\u2014/]", " ", s)                 # dashes and slashes separate words
    s = re.sub(r"[.,;:!?\"()*]", " ", s)                     # punctuation is not spoken
    s = re.sub(r"(^|\s)'+|'+(?=\s|$)", " ", s)               # quotes, keep inner apostrophes
    s = re.sub(r"\s+", " ", s).strip()
    if not s or re.search(r"[^a-z' ]", s):
        return None
    return s
