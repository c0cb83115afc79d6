"""The text classifier: its own n-gram features match scikit-learn's, probabilities are calibrated and
sum to one, the model survives a save/load, and titles get their own vote."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from civiclink.triage.classifier import CharGrams, Example, TextClassifier

NOISE = ["噪音", "吵闹", "扰民", "半夜", "装修声", "广场舞", "喇叭", "机器声"]
LIGHT = ["路灯", "不亮", "灯坏了", "黑乎乎", "照明", "灯杆", "路灯闪", "灯不亮"]
WAGE = ["工资", "欠薪", "拖欠", "老板", "工钱", "劳动合同", "社保", "加班费"]


def corpus(n=60, seed=1):
    rng = np.random.default_rng(seed)
    out = []
    for label, words in (("noise", NOISE), ("light", LIGHT), ("wage", WAGE)):
        for _ in range(n):
            picked = rng.choice(words, size=3, replace=False)
            out.append(Example(text="我家附近" + "，".join(picked) + "，请处理", label=label))
    return out


def test_char_grams_match_scikit_learn():
    texts = ["楼下烧烤店油烟很大", "路灯坏了一个星期", "公积金提取要带什么材料", "烧烤店夜里很吵"]
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, dtype=np.float32)
    expected = vectorizer.fit_transform(texts).toarray()
    ours = CharGrams.from_sklearn(vectorizer).transform(texts).toarray()
    assert np.allclose(ours, expected, atol=1e-6)


def test_learns_separable_classes_with_calibrated_confidence():
    model = TextClassifier.train(corpus(), source="test")
    assert model.meta["holdout"]["accuracy"] >= 0.9
    ranking = model.predict_one("半夜广场舞喇叭太吵，严重扰民")
    assert ranking[0][0] == "noise"
    assert sum(p for _, p in ranking) == pytest.approx(1.0, abs=1e-5)
    assert ranking[0][1] > 0.5
    unknown = model.predict_one("今天天气不错")
    assert unknown[0][1] < ranking[0][1]  # no evidence → less sure


def test_save_and_load_give_the_same_predictions(tmp_path):
    model = TextClassifier.train(corpus(), source="test")
    path = tmp_path / "m.pkl"
    model.save(path)
    again = TextClassifier.load(path)
    texts = ["拖欠工资三个月了", "路灯不亮"]
    assert [r[0] for r in again.predict(texts)] == [r[0] for r in model.predict(texts)]


def test_load_refuses_a_file_of_another_kind(tmp_path):
    path = tmp_path / "bad.pkl"
    import pickle

    path.write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(ValueError, match="重新训练"):
        TextClassifier.load(path)


def test_title_model_votes_for_titled_texts():
    examples = corpus(80)
    # Titles alone (like the Teddy title list) train the title model.
    examples += [Example(text="", title=w + "问题", label=label)
                 for label, words in (("noise", NOISE), ("light", LIGHT), ("wage", WAGE))
                 for w in words for _ in range(10)]
    model = TextClassifier.train(examples, source="test")
    assert model.title_model is not None
    assert model.predict_one("请尽快处理", title="欠薪问题")[0][0] == "wage"


def test_needs_two_classes():
    with pytest.raises(ValueError):
        TextClassifier.train([Example(text="路灯坏了", label="light")] * 20, source="test")
