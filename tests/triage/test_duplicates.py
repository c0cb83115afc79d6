"""Duplicate candidates (R-603/R-1008): the LSH index finds near-identical texts among many, keeps working
as orders arrive and age out, and the finder weighs caller, place and text."""

from datetime import UTC, datetime, timedelta

import numpy as np
from tests.helpers import register

from civiclink.triage.duplicates import (
    BANDS,
    DuplicateFinder,
    LshIndex,
    band_keys,
    shingles,
    signature,
    similarity,
)


def keys(text):
    return band_keys(signature(shingles(text)))


def test_similarity_orders_pairs_sensibly():
    a = "人民中路一段路灯坏了一周，晚上很黑，请尽快修"
    assert similarity(a, a) == 1.0
    assert similarity(a, "人民中路路灯坏了一个星期，晚上黑，麻烦修一下") > 0.4
    assert similarity(a, "公积金提取需要什么材料") < 0.15
    assert similarity(a, "") == 0.0


def test_lsh_finds_the_near_duplicate_among_many():
    rng = np.random.default_rng(3)
    words = list("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质")
    texts = ["".join(rng.choice(words, 40)) for _ in range(5000)]
    index = LshIndex()
    for i, t in enumerate(texts):
        index.add(i + 1, keys(t))
    assert index.size == 5000
    target = texts[1234]
    near = target[:30] + "请尽快处理"
    found = index.query(keys(near))
    assert 1235 in found
    assert len(found) < 200  # a few candidates, not the whole index


def test_bulk_load_fold_and_age_out():
    index = LshIndex()
    index.add_many(np.array([1, 2]), np.stack([keys("路灯坏了一周晚上很黑"), keys("公积金提取要什么材料")]))
    index.add(3, keys("路灯坏了一周晚上很黑啊"))
    index._fold()
    assert {1, 3} <= set(index.query(keys("路灯坏了一周晚上很黑")))
    index.remove_below(3)
    assert set(index.query(keys("路灯坏了一周晚上很黑"))) == {3}
    assert keys("x").shape == (BANDS,)


def test_finder_window_caller_and_reset(state, session, actors):
    ctx = state.ctx(session)
    old = register(ctx.at(ctx.now - timedelta(days=400)), actors)  # outside a year
    recent = register(ctx, actors, caller={"phone": "13500001111"})
    other = register(ctx, actors, title="公积金提取", content="公积金提取需要什么材料", category="cxjs.gjj",
                     address=None, caller={})
    finder = DuplicateFinder()
    now = datetime.now(UTC)
    found = finder.find(session, text="人民中路一段路灯坏了一周，晚上很黑，请尽快修", title="人民中路路灯不亮", now=now,
                        caller_phone="13500001111")
    numbers = [c.number for c in found]
    assert recent.number in numbers and old.number not in numbers and other.number not in numbers
    assert "同一来电人" in found[0].reasons
    # The table emptied (a restore): ids go back, the index starts over instead of missing new orders.
    finder._last_id = 10_000
    assert finder.find(session, text="人民中路一段路灯坏了一周，晚上很黑，请尽快修。", title="人民中路路灯不亮", now=now)
