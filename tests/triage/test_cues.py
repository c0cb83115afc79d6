"""The route rules (triage/cues.py) on sentences written for these tests: safety first (R-203/R-1007),
negation and hypotheticals, a danger that is over, R-106's other channels, and request types."""

import pytest

from civiclink.triage.cues import Lexicon, decide_route, request_type_scores


@pytest.mark.parametrize("text, route", [
    # violence, weapons, crime happening → 110
    ("有两个人在菜场门口打架，一个已经被打倒在地上了", "110"),
    ("一个男的拿着匕首在便利店里要钱", "110"),
    ("我的电动车刚刚在楼下被人偷了，小偷骑着往东跑了", "110"),
    ("昨天晚上我家被人撬门进来偷了两万块钱", "110"),  # reported later: still a crime (past_counts)
    ("接到自称客服的电话让我刷单，被骗了三万块", "110"),
    # lives in danger → 110
    ("我爷爷有老年痴呆，早上出门到现在没回来", "110"),
    ("池塘里有个小孩掉下去了", "110"),
    ("有人站在楼顶边上说要跳下去", "110"),
    # R-103(4)/R-104: danger from public facilities → joint (110 先期处置 + the competent unit)
    ("单元楼道里天然气味很浓，不知道哪家漏了", "joint"),
    ("路边一根电线断了掉在人行道上，还在冒火花", "joint"),
    ("小区外面的围墙已经歪了，随时要倒，下面有人走", "joint"),
    # crowds and stability → joint
    ("五六十个工人堵在项目部门口讨薪，说不给钱就去堵路", "joint"),
    # 12345's own matters
    ("小区楼下的路灯坏了一个星期了，麻烦修一下", "12345"),
    ("请问公积金提取需要带什么材料", "12345"),
    ("我想咨询一下身份证到期换领在哪里办", "12345"),  # police administration goes to 12345
    ("楼上邻居每天晚上拖椅子的声音很吵，跟他说了也不改", "12345"),
    # other channels
    ("我要起诉开发商，你们帮我写个起诉状", "not_accepted"),
    ("我举报我们镇的副镇长受贿", "not_accepted"),
    ("这件事我已经去信访局上访过了，现在想催一下", "not_accepted"),
    ("帮我查一下隔壁那户人家叫什么名字，电话多少", "not_accepted"),
])
def test_route(text, route):
    assert decide_route(text).route == route


@pytest.mark.parametrize("text", [
    "井盖丢了，好在还没人掉下去，请尽快补上",  # negated: nobody fell
    "楼道里堆了很多纸箱子，万一着火怎么办，请物业清理",  # hypothetical fire
    "新闻上说别的地方电动车着火了，我们小区也有人在楼道充电，请来管管",  # second-hand
    "上周小区门口有人打架，警察来了已经处理好了，我想问监控归谁管",  # the violence is over
])
def test_negated_hypothetical_and_resolved_cues_do_not_send_to_110(text):
    decision = decide_route(text)
    assert decision.route == "12345", [f.cue.id for f in decision.cues]


@pytest.mark.parametrize("text", [
    "楼上好像有人在吵架，吵得很凶",
    "我家门口有个人来回徘徊了好久",
    "你好，我要反映个事",
])
def test_unclear_danger_or_too_little_asks_a_person(text):
    decision = decide_route(text)
    assert decision.route == "ambiguous"
    assert decision.urgency in ("urgent", "emergency")


def test_safety_beats_an_exclusion():
    # A case in court does not make a threat with a knife a court matter (R-203 before R-106).
    assert decide_route("我们在打官司，今天对方拿刀到我家门口说要砍死我").route == "110"


def test_refer_gives_the_channel_and_fire_the_other_line():
    refer = decide_route("我对区里的处罚决定不服，想申请行政复议")
    assert refer.route == "not_accepted" and "行政复议" in refer.channel
    fire = decide_route("厨房着火了，烟很大")
    assert fire.route == "110" and fire.also_call == ["119"] and fire.urgency == "emergency"


def test_every_cue_names_its_rule_and_compiles():
    lexicon = Lexicon.load()
    assert len(lexicon.cues) > 30
    for cue in lexicon.cues:
        assert cue.rule.startswith("R-"), cue.id
        assert cue.kind in {"police", "danger", "group", "unclear", "refer", "resolved", "urgent"}
        if cue.kind == "refer":
            assert cue.channel, cue.id


@pytest.mark.parametrize("text, kind", [
    ("请问新生儿落户需要哪些材料", "consultation"),
    ("建议在学校门口增设一个红绿灯", "suggestion"),
    ("我要举报一家小作坊偷排废水", "report"),
    ("投诉楼下烧烤店油烟太大，天天扰民", "complaint"),
])
def test_request_type_cues(text, kind):
    scores = request_type_scores(text)
    assert max(scores, key=scores.get) == kind


@pytest.mark.parametrize("text", [
    # Found by a review: single characters that begin other words are not negations …
    "邻居无缘无故砍伤了我爸", "别人拿刀砍我", "未成年人被打了，在流血", "他不停地打我", "他没完没了地打我",
    # … a condition with 就 is a threat, not a hypothesis; 害怕/可怕 are not "怕会" …
    "他扬言如果不给钱就要杀我全家", "要是我不开门他就放火烧房子", "如果你们现在不来的话我老公拿着菜刀要砍我", "太可怕了有个人在砍人",
    # … and a call to the police that came before the violence does not end it.
    "我已经报警了，他还在打我", "已经报警了，现在有人拿刀在追我",
    # Words the first lexicon lacked.
    "他用皮带抽孩子，孩子浑身是伤", "电动车在楼道里充电冒烟了", "老婆被他掐住脖子了", "停电了，我爸的呼吸机停了，喘不上气",
    "房子着了", "孩子掉到河里了", "我妈叫不醒", "没人受伤但是车撞得很厉害，司机跑了",
])
def test_review_regressions_reach_110(text):
    assert decide_route(text).route in ("110", "joint")
