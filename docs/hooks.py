"""MkDocs hook: pages that must not drift from the code are generated at build time.

``<!-- generated: cli -->`` becomes the ``--help`` of every verb (from the argparse parser
the ``pipelines`` command builds), and ``<!-- generated: presets -->`` the output of
``pipelines list``.
"""

import contextlib
import io
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _help(parser, words):
    text = parser.format_help()
    return f"### `pipelines {' '.join(words)}`\n\n```text\n{text.rstrip()}\n```\n"


def _cli_reference():
    import argparse

    from pipelines.cli import build_parser

    parser = build_parser()
    sections = [_help(parser, [])]

    def walk(p, words):
        for action in p._actions:  # argparse keeps sub-commands only here
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    sections.append(_help(sub, [*words, name]))
                    walk(sub, [*words, name])

    walk(parser, [])
    return "\n".join(sections)


def _presets():
    from pipelines.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["list"])
    return f"```text\n{out.getvalue().rstrip()}\n```\n"


GENERATED = {"<!-- generated: cli -->": _cli_reference, "<!-- generated: presets -->": _presets}


def on_page_markdown(markdown, page, config, files):
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    for marker, make in GENERATED.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
