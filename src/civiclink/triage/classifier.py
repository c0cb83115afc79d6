"""The text classifier behind the category (and request-type / urgency) suggestions.

Character 1–3-grams with TF-IDF (sublinear tf) need no word segmentation and hold up on short, colloquial
Chinese; two linear models on them (ridge and a linear SVM, both class-balanced) are averaged on z-scored
decision values, and — when the training data has titles of their own — a title model adds its vote for
texts that come with a title. A temperature fitted on a held-out tenth turns the scores into a confidence.
Everything is scikit-learn and numpy: training takes seconds and a prediction well under a millisecond.
"""

from __future__ import annotations

import math
import pickle
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from civiclink.triage.text import normalize

FORMAT = 1
TITLE_WEIGHT = 0.4
SVC_WEIGHT = 0.5




def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    s = scores * temperature
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class Example:
    text: str
    label: str
    title: str | None = None
    weight: float = 1.0


@dataclass
class TextClassifier:
    """A fitted classifier; ``predict`` gives (label, confidence, ranking) for each text."""

    labels: list[str]
    features: CharGrams
    models: list[LinearScores]          # ridge, svm: averaged on z-scored decision values
    title_features: CharGrams | None = None
    title_model: LinearScores | None = None
    temperature: float = 1.0
    meta: dict = field(default_factory=dict)

    # -- training ---------------------------------------------------------------------------------------------

    @classmethod
    def train(cls, examples: list[Example], *, source: str, holdout: float = 0.1, seed: int = 7,
              progress=None, features: SharedFeatures | None = None) -> TextClassifier:
        """Fit on ``examples``; a stratified ``holdout`` share first fits the temperature and gives the
        held-out scores recorded in ``meta``, then the model is refitted on everything. ``features`` (see
        ``fit_features``) makes several classifiers share one set of features."""
        examples = [e for e in examples if normalize(e.text) or normalize(e.title)]
        counts = Counter(e.label for e in examples)
        if len(counts) < 2:
            raise ValueError("训练数据至少需要两个类别")
        rng = random.Random(seed)
        by_label: dict[str, list[Example]] = {}
        for e in examples:
            by_label.setdefault(e.label, []).append(e)
        fit_part, held = [], []
        for items in by_label.values():
            rng.shuffle(items)
            cut = int(len(items) * holdout) if len(items) >= 10 else 0
            held += items[:cut]
            fit_part += items[cut:]
        step = progress or (lambda _msg: None)
        meta = {"format": FORMAT, "source": source, "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "examples": len(examples), "classes": dict(sorted(counts.items()))}
        temperature = 1.0
        if held:
            step(f"拟合（留出 {len(held)} 条用于校准）")
            probe = cls._fit(fit_part, features)
            scores = probe._scores([e.text for e in held], [e.title for e in held])
            gold = np.array([probe.labels.index(e.label) if e.label in probe.labels else -1 for e in held])
            keep = gold >= 0
            temperature = _fit_temperature(scores[keep], gold[keep])
            predicted = scores.argmax(axis=1)
            meta["holdout"] = {"examples": int(keep.sum()),
                               "accuracy": round(float((predicted[keep] == gold[keep]).mean()), 4),
                               "macro_f1": round(_macro_f1(gold[keep], predicted[keep], len(probe.labels)), 4)}
        step(f"拟合全部 {len(examples)} 条")
        model = cls._fit(examples, features)
        model.temperature = temperature
        model.meta = meta
        return model

    @classmethod
    def _fit(cls, examples: list[Example], features: SharedFeatures | None = None) -> TextClassifier:
        from sklearn.linear_model import RidgeClassifier
        from sklearn.svm import LinearSVC

        texts = [_joined(e.title, e.text) for e in examples]
        y = [e.label for e in examples]
        weights = np.array([e.weight for e in examples])
        shared = features or fit_features(texts)
        x = shared.vectorizer.transform(texts)
        ridge = RidgeClassifier(alpha=1.0, class_weight="balanced", solver="sparse_cg").fit(x, y, sample_weight=weights)
        svc = LinearSVC(C=0.5, class_weight="balanced").fit(x, y, sample_weight=weights)
        labels = [str(c) for c in ridge.classes_]
        titled = [e for e in examples if normalize(e.title)]
        title_vectorizer = title_model = None
        # A separate title model only pays when there are enough titles of every class to learn from.
        if len(titled) >= 200 and len({e.label for e in titled}) == len(labels):
            from sklearn.feature_extraction.text import TfidfVectorizer

            title_vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, dtype=np.float32)
            xt = title_vectorizer.fit_transform([normalize(e.title) for e in titled])
            title_model = LinearSVC(C=0.5).fit(xt, [e.label for e in titled],
                                               sample_weight=np.array([e.weight for e in titled]))
        title_features = CharGrams.from_sklearn(title_vectorizer) if title_vectorizer is not None else None
        models = [LinearScores.from_sklearn(ridge, labels).fit_scale(x),
                  LinearScores.from_sklearn(svc, labels).fit_scale(x)]
        title_scores = None
        if title_model is not None:
            title_scores = LinearScores.from_sklearn(title_model, labels).fit_scale(xt)
        return cls(labels=labels, features=shared.grams, models=models, title_features=title_features,
                   title_model=title_scores)

    # -- prediction -------------------------------------------------------------------------------------------

    def _scores(self, texts: list[str], titles: list[str | None] | None = None, memo: dict | None = None
                ) -> np.ndarray:
        titles = titles or [None] * len(texts)
        joined = [_joined(t, s) for s, t in zip(texts, titles, strict=True)]
        key = (id(self.features), *joined)
        x = memo.get(key) if memo is not None else None
        if x is None:
            x = self.features.transform(joined)
            if memo is not None:
                memo[key] = x  # the next model with the same features reuses it (one request, one text)
        ridge, svc = self.models
        scores = ridge.scaled(x) + SVC_WEIGHT * svc.scaled(x)
        if self.title_model is not None:
            rows = [i for i, t in enumerate(titles) if normalize(t)]
            if rows:
                xt = self.title_features.transform([normalize(titles[i]) for i in rows])
                scores[rows] += TITLE_WEIGHT * self.title_model.scaled(xt)
        return scores

    def predict(self, texts: list[str], titles: list[str | None] | None = None, memo: dict | None = None
                ) -> list[list[tuple[str, float]]]:
        """For each text, every label with its probability, best first."""
        if not texts:
            return []
        probs = _softmax(self._scores(texts, titles, memo), self.temperature)
        order = np.argsort(-probs, axis=1)
        return [[(self.labels[j], float(p[j])) for j in row] for p, row in zip(probs, order, strict=True)]

    def predict_one(self, text: str, title: str | None = None, memo: dict | None = None) -> list[tuple[str, float]]:
        return self.predict([text], [title], memo)[0]

    # -- files ------------------------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        save_model_file(self, path)

    @classmethod
    def load(cls, path: Path) -> TextClassifier:
        return load_model_file(cls, path)


def save_model_file(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)  # a running site never reads half a file


def load_model_file(cls, path: Path):
    # Written by `civiclink model train` on this server; trusted like the code itself (it is a pickle).
    with path.open("rb") as fh:
        obj = pickle.load(fh)
    if not isinstance(obj, cls) or obj.meta.get("format") != FORMAT:
        raise ValueError(f"{path} 不是本版本的模型文件，请运行 civiclink model train 重新训练")
    return obj


MAX_CHARS = 2000  # a long letter's first 2,000 characters say what it is about; the rest only costs time


@dataclass(frozen=True)
class SharedFeatures:
    """Fitted TF-IDF character n-grams: scikit-learn's vectorizer to fit classifiers with, and the same
    vocabulary as ``CharGrams`` for the classifiers to keep. Classifiers trained with one ``SharedFeatures``
    hold the same ``CharGrams`` object, so a request's text is turned into features once for all of them."""

    vectorizer: object
    grams: CharGrams


def fit_features(texts: list[str]) -> SharedFeatures:
    """TF-IDF over character 1–3-grams (sublinear tf), fitted on ``texts``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True,
                                 min_df=2 if len(texts) > 500 else 1, dtype=np.float32)
    vectorizer.fit([t[:MAX_CHARS] for t in texts])
    return SharedFeatures(vectorizer, CharGrams.from_sklearn(vectorizer))


@dataclass
class CharGrams:
    """TF-IDF character n-grams, computed the way scikit-learn's ``TfidfVectorizer(analyzer="char",
    sublinear_tf=True)`` does, without its per-call overhead (a few milliseconds per call: too much for one
    request at intake) and without importing scikit-learn at run time."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    min_n: int
    max_n: int

    @classmethod
    def from_sklearn(cls, vectorizer) -> CharGrams:
        low, high = vectorizer.ngram_range
        return cls(vocabulary={k: int(v) for k, v in vectorizer.vocabulary_.items()},
                   idf=vectorizer.idf_.astype(np.float32), min_n=low, max_n=high)

    def transform(self, texts: list[str]):
        from scipy.sparse import csr_matrix

        indptr, indices, values = [0], [], []
        vocab = self.vocabulary
        for text in texts:
            text = text.lower()
            # Count the n-grams first (Counter runs in C), then look up only the distinct ones.
            grams: Counter = Counter()
            for n in range(self.min_n, self.max_n + 1):
                grams.update(text[i : i + n] for i in range(len(text) - n + 1))
            counts = {j: c for g, c in grams.items() if (j := vocab.get(g)) is not None}
            if counts:
                cols = np.fromiter(counts.keys(), dtype=np.int32, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
                v = (1.0 + np.log(tf)) * self.idf[cols]
                v /= np.linalg.norm(v)
                indices.append(cols)
                values.append(v)
                indptr.append(indptr[-1] + len(cols))
            else:
                indptr.append(indptr[-1])
        data = np.concatenate(values) if values else np.zeros(0, np.float32)
        idx = np.concatenate(indices) if indices else np.zeros(0, np.int32)
        return csr_matrix((data, idx, np.array(indptr)), shape=(len(texts), len(self.idf)))


@dataclass
class LinearScores:
    """The decision function of a fitted linear model: x·W + b, columns in the classifier's label order."""

    weights: np.ndarray  # (features, labels)
    intercept: np.ndarray
    # The spread of this model's decision values on its training data: models on different scales (ridge,
    # SVM) are added in these units. One global scale, not per text, so that a text with little evidence
    # keeps its small scores and gets a low confidence.
    scale: float = 1.0

    @classmethod
    def from_sklearn(cls, model, labels: list[str]) -> LinearScores:
        coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float32))
        intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float32))
        if coef.shape[0] == 1:  # two classes: one column for the second
            coef = np.vstack([-coef, coef])
            intercept = np.concatenate([-intercept, intercept])
        order = [list(map(str, model.classes_)).index(label) for label in labels]
        return cls(weights=np.ascontiguousarray(coef[order].T), intercept=intercept[order])

    def fit_scale(self, x) -> LinearScores:
        scores = self.scores(x)
        spread = float((scores - scores.mean(axis=1, keepdims=True)).std())
        self.scale = spread if spread > 1e-9 else 1.0
        return self

    def scores(self, x) -> np.ndarray:
        return np.asarray(x @ self.weights) + self.intercept

    def scaled(self, x) -> np.ndarray:
        return self.scores(x) / self.scale


def _joined(title: str | None, text: str) -> str:
    return (normalize(title) + normalize(text))[:MAX_CHARS]


def _fit_temperature(scores: np.ndarray, gold: np.ndarray) -> float:
    """The temperature with the smallest negative log-likelihood on held-out rows (a coarse grid is plenty)."""
    best, best_nll = 1.0, math.inf
    for t in np.geomspace(0.05, 10, 60):
        p = _softmax(scores, float(t))[np.arange(len(gold)), gold]
        nll = float(-np.log(np.clip(p, 1e-12, None)).mean())
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def _macro_f1(gold: np.ndarray, predicted: np.ndarray, n: int) -> float:
    f1s = []
    for c in range(n):
        tp = int(((predicted == c) & (gold == c)).sum())
        fp = int(((predicted == c) & (gold != c)).sum())
        fn = int(((predicted != c) & (gold == c)).sum())
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / len(f1s) if f1s else 0.0
