"""The zh-CN message catalogue for domain terms: every label the API, the CLI and (later) the console show.

Code speaks English identifiers; people read these labels. Fix wording here, in one place.
"""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "state": {
        "registered": "已登记",
        "awaiting_dispatch": "待派单",
        "dispatched": "已派单",
        "signed": "已签收",
        "in_progress": "办理中",
        "return_requested": "退单申请",
        "extension_requested": "延期申请",
        "replied": "已答复",
        "awaiting_callback": "待回访",
        "reopened": "重办",
        "closed": "已办结",
        "closed_at_intake": "直接办结",
        "merged": "已合并",
        "transferred_to_110": "已转110",
        "joint": "联合调处",
    },
    "action": {
        "register": "登记",
        "submit": "提交派单",
        "close_at_intake": "直接办结",
        "dispatch": "派单",
        "sign": "签收",
        "return": "退单",
        "approve_return": "同意退单",
        "reject_return": "驳回退单",
        "progress": "办理进展",
        "request_extension": "申请延期",
        "approve_extension": "批准延期",
        "reject_extension": "驳回延期",
        "pause": "暂停计时",
        "resume": "恢复计时",
        "reply": "答复",
        "approve_reply": "答复审核通过",
        "reject_reply": "答复退回重办",
        "callback": "回访",
        "close": "办结",
        "reopen": "重办",
        "merge": "合并",
        "urge": "催办",
        "supervise": "督办",
    },
    "channel": {
        "phone": "电话",
        "website": "网站",
        "wechat": "微信",
        "app": "APP",
        "sms": "短信",
        "email": "信件/邮件",
        "police_transfer": "110转入",
        "provincial": "省平台",
        "open311": "开放接口",
    },
    "request_type": {
        "consultation": "咨询",
        "help": "求助",
        "complaint": "投诉",
        "report": "举报",
        "suggestion": "建议",
    },
    "urgency": {"normal": "一般", "urgent": "紧急", "emergency": "特急"},
    "role": {
        "operator": "话务员",
        "dispatcher": "派单员",
        "unit_staff": "承办单位人员",
        "supervisor": "督办员",
        "callback_agent": "回访员",
        "admin": "管理员",
        "leader": "指挥中心领导",
        "police_operator": "110接警员",
        "police_commander": "110指挥员",
    },
    "satisfaction": {"1": "非常满意", "2": "满意", "3": "一般", "4": "不满意", "5": "非常不满意"},
    "stage": {"dispatch": "派单", "sign": "签收", "handle": "办理", "callback": "回访"},
    "color": {"green": "正常", "yellow": "黄灯预警", "red": "红灯超期", "paused": "暂停计时", "done": "已完成"},
    "callback_method": {"phone": "电话", "sms": "短信", "web": "网站"},
    "unit_kind": {
        "city": "市",
        "district": "区",
        "county": "县",
        "county_city": "县级市",
        "zone": "开发区",
        "street": "街道",
        "town": "镇",
        "community": "社区",
        "village": "村",
        "department": "成员单位",
        "hotline_center": "热线中心",
        "police": "公安",
    },
}


def label(kind: str, value) -> str:
    """The Chinese label of ``value`` in the vocabulary ``kind``, or the value itself if unknown."""
    key = str(getattr(value, "value", value))
    return LABELS.get(kind, {}).get(key, key)


def labels(kind: str, values) -> str:
    return "、".join(label(kind, v) for v in values)
