"""Caption, translation, speech and video metrics: thin wrappers over sacrebleu and jiwer, plus CIDEr-D.

CIDEr-D (Vedantam et al. 2015, as in the COCO caption toolkit): TF-IDF weighted
n-gram (1..4) cosine similarity with a Gaussian length penalty (sigma=6), clipped
candidate counts, averaged over n and references, times 10. Document frequencies
come from the references of the evaluated set, as the COCO toolkit does.

Example:
    >>> corpus_bleu(["a red dog"], [["a red dog", "there is a red dog"]])
    100.0
"""

import collections
import math

import jiwer
import sacrebleu

from tasks.core.text import standardize_py


def corpus_bleu(hypotheses, references):
    """Corpus BLEU-4 (sacrebleu, 0..100); ``references[i]`` lists the refs of item i."""
    _check(hypotheses, references)
    width = max(len(r) for r in references)
    # sacrebleu wants one stream per reference slot; pad short lists with None-free repeats
    streams = [[refs[j] if j < len(refs) else refs[0] for refs in references] for j in range(width)]
    return float(sacrebleu.corpus_bleu(list(hypotheses), streams).score)


def corpus_chrf(hypotheses, references):
    """Corpus chrF (sacrebleu defaults: character 6-grams, beta 2; 0..100)."""
    _check(hypotheses, references)
    width = max(len(r) for r in references)
    streams = [[refs[j] if j < len(refs) else refs[0] for refs in references] for j in range(width)]
    return float(sacrebleu.corpus_chrf(list(hypotheses), streams).score)


def exact_match(hypotheses, references):
    """Percentage of hypotheses equal (after standardisation) to one of their references."""
    _check(hypotheses, references)
    hits = sum(standardize_py(h) in {standardize_py(r) for r in refs}
               for h, refs in zip(hypotheses, references))
    return 100.0 * hits / len(hypotheses)


def segment_f1(references, predictions, min_iou=0.5):
    """Segment F1 over clips: a predicted ``(start, end, label)`` is a hit when it
    overlaps a not-yet-matched reference segment of the same label with IoU >=
    ``min_iou`` (greedy, best IoU first). ``references[i]``/``predictions[i]`` list clip
    i's segments. Returns F1 in 0..1 (1.0 when both are empty everywhere)."""
    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} reference clips but {len(predictions)} predicted")
    hits = total_true = total_pred = 0
    for truth, pred in zip(references, predictions):
        total_true, total_pred = total_true + len(truth), total_pred + len(pred)
        pairs = []
        for i, (ts, te, tl) in enumerate(truth):
            for j, (ps, pe, pl) in enumerate(pred):
                if tl == pl:
                    union = max(te, pe) - min(ts, ps)
                    iou = max(0.0, min(te, pe) - max(ts, ps)) / union if union > 0 else 0.0
                    if iou >= min_iou:
                        pairs.append((iou, i, j))
        used_true, used_pred = set(), set()
        for _, i, j in sorted(pairs, reverse=True):
            if i not in used_true and j not in used_pred:
                used_true.add(i)
                used_pred.add(j)
        hits += len(used_true)
    if total_true == total_pred == 0:
        return 1.0
    return 2.0 * hits / (total_true + total_pred)


def _ngrams(words, n):
    return collections.Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def cider_d(hypotheses, references, sigma=6.0):
    """CIDEr-D score (0..10 scale as in the COCO toolkit)."""
    _check(hypotheses, references)
    refs_words = [[standardize_py(r).split() for r in refs] for refs in references]
    hyps_words = [standardize_py(h).split() for h in hypotheses]
    doc_freq = collections.Counter()
    for refs in refs_words:
        doc_freq.update({g for r in refs for n in range(1, 5) for g in _ngrams(r, n)})
    log_n = math.log(float(len(references)))

    def vectors(words):
        vec, norms = [], []
        for n in range(1, 5):
            counts = _ngrams(words, n)
            v = {g: c * (log_n - math.log(max(1.0, doc_freq[g]))) for g, c in counts.items()}
            vec.append(v)
            norms.append(math.sqrt(sum(x * x for x in v.values())))
        return vec, norms, len(words)

    total = 0.0
    for hyp, refs in zip(hyps_words, refs_words):
        hv, hn, hl = vectors(hyp)
        score = [0.0] * 4
        for ref in refs:
            rv, rn, rl = vectors(ref)
            for n in range(4):
                dot = sum(min(val, rv[n].get(g, 0.0)) * rv[n].get(g, 0.0) for g, val in hv[n].items())
                if hn[n] and rn[n]:
                    score[n] += dot / (hn[n] * rn[n]) * math.exp(-((hl - rl) ** 2) / (2 * sigma**2))
        total += sum(s / len(refs) for s in score) / 4 * 10
    return total / len(hypotheses)


def _check(hypotheses, references):
    if len(hypotheses) != len(references):
        raise ValueError(
            f"hypotheses and references must have the same length, got {len(hypotheses)} "
            f"and {len(references)}"
        )
    if not hypotheses:
        raise ValueError("hypotheses must not be empty")
    if any(not refs for refs in references):
        raise ValueError("every item needs at least one reference")


def _error_rate(measure, references, hypotheses):
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    if not references:
        raise ValueError("references is empty")
    # jiwer refuses empty references; an empty pair is scored by its hypothesis alone.
    pairs = [(r, h) for r, h in zip(references, hypotheses) if r.strip()]
    extra = sum(len(h.split() if measure is jiwer.wer else h) for r, h in zip(references, hypotheses)
                if not r.strip())
    total = sum(len(r.split() if measure is jiwer.wer else r) for r, _ in pairs)
    if not pairs:
        return 100.0 if extra else 0.0
    rate = measure([r for r, _ in pairs], [h for _, h in pairs])
    return 100.0 * (rate * total + extra) / max(total, 1)


def wer(references, hypotheses):
    """Corpus word error rate in percent (jiwer): edits / reference words."""
    return _error_rate(jiwer.wer, references, hypotheses)


def cer(references, hypotheses):
    """Corpus character error rate in percent (jiwer): edits / reference characters."""
    return _error_rate(jiwer.cer, references, hypotheses)
