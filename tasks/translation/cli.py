"""Translation's command-line verbs (so far: build-data translation)."""

import json


def _build_data(args):
    from tasks.translation.corpus import build_corpus

    stats = build_corpus(args.output)["statistics"]
    print(json.dumps({k: stats[k]["pairs"] for k in ("train", "val", "test")}))


def register(commands):
    p = commands.task_verb("build-data", "translation",
                           "build the English-French corpus from pinned Debian catalogs", _build_data)
    p.add_argument("--output", required=True)
