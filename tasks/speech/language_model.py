"""A word n-gram language model for CTC beam search, built from corpus text (Python side).

The acoustic model spells what it hears ("a singl labl"); a lexicon-constrained beam
search with a word n-gram language model picks spellings of real words in likely orders.
The search is flashlight-text's ``LexiconDecoder`` (C++, the decoder torchaudio wraps)
with its KenLM scorer. KenLM reads ARPA files but its estimator (``lmplz``) ships in no
registry this project can use, so ``write_arpa`` estimates an interpolated Kneser-Ney
model here and writes it in the ARPA format KenLM reads. The exported SavedModel is not
affected: this decoding runs on logits in Python.

Example:
    >>> write_arpa(["turn the light on", "turn the radio off"], "lm.arpa", order=3)
    >>> decoder = WordDecoder("lm.arpa", alphabet=" 'abcdefghijklmnopqrstuvwxyz")
    >>> decoder.decode(log_probs, lengths)                 # [B, T, V] log-softmax, [B]
    ['turn the light on', ...]
"""

import collections
import math
import os

import numpy as np

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
# The search options new language models are tuned and saved with (WordDecoder's keyword
# arguments): on the bundled model's val split a wider beam pruned harder (200 hypotheses
# within 10 of the best, 8 characters a frame) beat 50 within 25 over every character, and
# searched faster (README, "Word language model").
SEARCH = {"beam_size": 200, "beam_threshold": 10.0, "beam_size_token": 8}


def _ngram_counts(sentences, order):
    counts = [collections.Counter() for _ in range(order)]
    for words in sentences:
        padded = [BOS] + words + [EOS]
        for n in range(1, order + 1):
            for i in range(len(padded) - n + 1):
                counts[n - 1][tuple(padded[i:i + n])] += 1
    return counts


def _discount(counts):
    # Ney's estimate from the counts of counts; 0.5..0.9 guards tiny corpora
    n1 = sum(1 for c in counts.values() if c == 1)
    n2 = sum(1 for c in counts.values() if c == 2)
    return min(0.9, max(0.5, n1 / (n1 + 2 * n2))) if n1 and n2 else 0.7


def estimate(sentences, order=3, vocabulary=()):
    """Interpolated Kneser-Ney: ``(probs, backoffs)``, each a list per order of dicts from
    n-gram tuples to log10 values, in the backoff form ARPA stores.

    Every stored ``p(w | h)`` is already interpolated with the lower orders; ``backoff(h)`` is
    the interpolation weight left for words never seen after ``h``, so an ARPA reader that
    backs off reproduces the interpolated model exactly. ``vocabulary`` adds words the
    sentences may lack (a dictionary): they share the uniform floor with ``<unk>``, so the
    search can spell them while words seen in context stay far likelier.

    Example:
        >>> logp, _ = estimate(["turn the light on"], 2, vocabulary=["lamp"])
        >>> logp[0][("lamp",)] == logp[0][("<unk>",)]
        True
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    if isinstance(vocabulary, str):
        raise TypeError("vocabulary must be an iterable of words, not one string")
    extra = set(vocabulary) - {BOS, EOS, UNK}
    bad = sorted(repr(w) for w in extra
                 if not isinstance(w, str) or not w or len(w.split()) != 1 or w != w.strip())
    if bad:
        raise ValueError("vocabulary must hold single words without spaces, got "
                         + ", ".join(bad[:3]))
    sentences = [s.split() if isinstance(s, str) else list(s) for s in sentences]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise ValueError("sentences must hold at least one non-empty sentence")
    raw = _ngram_counts(sentences, order)
    # Lower orders count distinct left extensions (how many contexts a word continues),
    # except n-grams that start a sentence, which have no left context to count.
    counts = [None] * order
    counts[order - 1] = raw[order - 1]
    for n in range(order - 1, 0, -1):
        cont = collections.Counter(g[1:] for g in raw[n])
        counts[n - 1] = collections.Counter(
            {g: (raw[n - 1][g] if g[0] == BOS else cont[g]) for g in raw[n - 1]
             if g[0] == BOS or g in cont})
    counts[0].pop((BOS,), None)  # <s> starts sentences but is never predicted
    vocab = sorted({g[0] for g in counts[0]} | {UNK} | extra)  # what the uniform floor spreads over
    probs, weights = [dict() for _ in range(order)], [dict() for _ in range(order)]
    for n in range(1, order + 1):
        table = counts[n - 1]
        d = _discount(table)
        totals, kinds = collections.Counter(), collections.Counter()
        for g, c in table.items():
            totals[g[:-1]] += c
            kinds[g[:-1]] += 1
        for g, c in table.items():
            h = g[:-1]
            lower = (1.0 / len(vocab)) if n == 1 else probs[n - 2][g[1:]]
            probs[n - 1][g] = max(c - d, 0.0) / totals[h] + d * kinds[h] / totals[h] * lower
        for h in totals:
            weights[n - 1][h] = d * kinds[h] / totals[h]
        if n == 1:
            for word in [UNK, *sorted(extra)]:  # never seen: the floor alone
                probs[0].setdefault((word,), weights[0][()] / len(vocab))
            probs[0][(BOS,)] = 0.0  # log10 -99 in the file, as ARPA writes <s>
    logp = [{g: (math.log10(p) if p > 0 else -99.0) for g, p in table.items()} for table in probs]
    backoff = [dict() for _ in range(order)]
    for n in range(1, order):  # the weight of context h is stored on the n-gram h itself
        for h, w in weights[n].items():
            backoff[n - 1][h] = math.log10(w)
    return logp, backoff


def write_arpa(sentences, path, order=3, vocabulary=()):
    """Estimate an interpolated Kneser-Ney ``order``-gram model from ``sentences`` (str of
    space-separated words, or lists of words) and write it to ``path`` as ARPA; the words of
    ``vocabulary`` join the lexicon at the unigram floor (see :func:`estimate`).

    Example:
        >>> write_arpa(["turn the light on", "turn it off"], "/tmp/lm.arpa", order=2)
        >>> write_arpa(texts, "lm.arpa", vocabulary=english_words("data/cache"))
    """
    logp, backoff = estimate(sentences, order, vocabulary)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n\\data\\\n")
        for n, table in enumerate(logp, 1):
            f.write(f"ngram {n}={len(table)}\n")
        for n, table in enumerate(logp, 1):
            f.write(f"\n\\{n}-grams:\n")
            for g in sorted(table):
                line = f"{table[g]:.6f}\t{' '.join(g)}"
                if n < len(logp):
                    line += f"\t{backoff[n - 1].get(g, 0.0):.6f}"
                f.write(line + "\n")
        f.write("\n\\end\\\n")
    return path


def arpa_words(path):
    """The unigrams of an ARPA file (the decoder's lexicon), without ``<s>``/``</s>``/``<unk>``."""
    words, section = [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("\\"):
                section = line
                continue
            if section == "\\1-grams:" and line:
                word = line.split("\t")[1]
                if word not in (BOS, EOS, UNK):
                    words.append(word)
    return words


class WordDecoder:
    """Lexicon-constrained CTC beam search with a word n-gram LM (flashlight-text + KenLM).

    ``alphabet`` is the speech preprocessor's: id 0 is the CTC blank, id ``i + 1`` is
    ``alphabet[i]``, and the space is the word boundary. Only words of the ARPA file's
    vocabulary can be output. ``lm_weight`` and ``word_score`` are the usual shallow-fusion
    weights: tune them on a validation split. The search keeps ``beam_size`` hypotheses,
    drops those more than ``beam_threshold`` (log score) behind the best, and extends each
    with its ``beam_size_token`` likeliest characters per frame (None, or more than the
    alphabet holds: every character). The search defaults are :data:`SEARCH`.

    Example:
        >>> decoder = WordDecoder("lm.arpa", lm_weight=1.0, word_score=0.5)
        >>> decoder.decode(log_probs, lengths)
    """

    def __init__(self, arpa_path, alphabet=" 'abcdefghijklmnopqrstuvwxyz", lm_weight=1.0,
                 word_score=0.0, beam_size=SEARCH["beam_size"],
                 beam_threshold=SEARCH["beam_threshold"], max_frames=1000,
                 beam_size_token=SEARCH["beam_size_token"]):
        from flashlight.lib.text.decoder import (CriterionType, LexiconDecoder,
                                                 LexiconDecoderOptions, SmearingMode, Trie)
        from flashlight.lib.text.decoder.kenlm import KenLM
        from flashlight.lib.text.dictionary import Dictionary

        if not os.path.isfile(arpa_path):
            raise ValueError(f"arpa_path must be an ARPA file, got {arpa_path!r}")
        if " " not in alphabet:
            raise ValueError("alphabet must contain the space, the word boundary")
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        if beam_threshold <= 0:
            raise ValueError(f"beam_threshold must be > 0, got {beam_threshold}")
        if beam_size_token is not None and beam_size_token < 1:
            raise ValueError(f"beam_size_token must be None or >= 1, got {beam_size_token}")
        if max_frames < 50:
            raise ValueError(f"max_frames must be >= 50, got {max_frames}")
        self.alphabet, self.max_frames = alphabet, int(max_frames)
        self.token_ids = {ch: i + 1 for i, ch in enumerate(alphabet)}
        self.blank, self.space = 0, self.token_ids[" "]
        words = [w for w in arpa_words(arpa_path) if all(ch in self.token_ids for ch in w)]
        self.words = Dictionary()
        for w in words + [UNK]:
            self.words.add_entry(w)
        self.lm = KenLM(arpa_path, self.words)
        start = self.lm.start(False)
        trie = Trie(len(alphabet) + 1, self.space)
        for w in words:
            _, score = self.lm.score(start, self.words.get_index(w))
            # spelled without a trailing space: the network emits spaces only between
            # words, and the search takes the space as the silence token there
            trie.insert([self.token_ids[ch] for ch in w], self.words.get_index(w), score)
        trie.smear(SmearingMode.MAX)
        self._trie = trie  # the decoder keeps a pointer to it
        # more than the alphabet holds is every character, so the default fits any alphabet
        tokens = len(alphabet) + 1 if beam_size_token is None else min(int(beam_size_token),
                                                                        len(alphabet) + 1)
        options = LexiconDecoderOptions(beam_size=beam_size, beam_size_token=tokens,
                                        beam_threshold=beam_threshold, lm_weight=lm_weight,
                                        word_score=word_score, unk_score=-math.inf,
                                        sil_score=0.0, log_add=False,
                                        criterion_type=CriterionType.CTC)
        self._decoder = LexiconDecoder(options, trie, self.lm, self.space, self.blank,
                                       self.words.get_index(UNK), [], False)

    def decode(self, log_probs, lengths=None):
        """CTC log-probabilities ``[B, T, V]`` (numpy) and valid frame counts ``[B]`` -> list of
        transcripts."""
        log_probs = np.asarray(log_probs, np.float32)
        if log_probs.ndim != 3 or log_probs.shape[2] != len(self.alphabet) + 1:
            raise ValueError(f"log_probs must be [batch, frames, {len(self.alphabet) + 1}], "
                             f"got shape {log_probs.shape}")
        if lengths is None:
            lengths = [log_probs.shape[1]] * log_probs.shape[0]
        return [self.decode_with_path(row[:int(length)])[0] for row, length in zip(log_probs, lengths)]

    def decode_with_path(self, log_probs):
        """One recording's ``[frames, V]`` log-probabilities -> (transcript, the label of
        every frame on the best path), the path for word timestamps. Not thread-safe: the
        search keeps its state in the decoder.

        A recording longer than ``max_frames`` is searched in pieces cut between words
        (see ``cut_points``), so memory stays bounded for any length."""
        emissions = np.ascontiguousarray(log_probs, np.float32)
        if emissions.ndim != 2 or emissions.shape[1] != len(self.alphabet) + 1:
            raise ValueError(f"log_probs must be [frames, {len(self.alphabet) + 1}], got shape "
                             f"{emissions.shape}")
        texts, paths = [], []
        cuts = cut_points(emissions, self.max_frames, self.space)
        for start, stop in zip(cuts[:-1], cuts[1:]):
            piece = np.ascontiguousarray(emissions[start:stop])
            best = self._decoder.decode(piece.ctypes.data, piece.shape[0], piece.shape[1])[0]
            texts.append(" ".join(self.words.get_entry(i) for i in best.words if i >= 0))
            # the search's token sequence has one boundary token before and after the frames
            paths.append(np.asarray(best.tokens[1:-1], np.int64))
        path = np.concatenate(paths) if paths else np.zeros([0], np.int64)
        return " ".join(t for t in texts if t), path


def cut_points(log_probs, max_frames, space_id):
    """Frame indices ``[0, ..., len]`` cutting a long recording into pieces of at most
    ``max_frames``, each cut where the greedy path is at a space (else a blank) in the second
    half of the allowed span, so no word is cut in two."""
    total = len(log_probs)
    cuts = [0]
    if total == 0:
        return cuts  # no pieces: the empty transcript
    best = np.argmax(log_probs, axis=-1)
    while total - cuts[-1] > max_frames:
        lo, hi = cuts[-1] + max_frames // 2, cuts[-1] + max_frames
        for kind in (space_id, 0):
            found = np.flatnonzero(best[lo:hi] == kind)
            if found.size:
                cuts.append(lo + int(found[-1]))
                break
        else:
            cuts.append(hi)
    return cuts + [total]
