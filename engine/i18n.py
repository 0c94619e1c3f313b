"""Messages the engine and CLI say to people, in English and Chinese.

Labels of states, actions, fields and codes come from the definitions; this
catalogue holds only the engine's own sentences and headings.
"""

from __future__ import annotations

from typing import Any

MESSAGES: dict[str, tuple[str, str]] = {
    # refusals
    "no_action": ("process '{process}' has no action '{action}'; available now: {available}",
                  "流程 '{process}' 没有动作 '{action}'；当前可用：{available}"),
    "not_in_state": ("action '{action}' is not available in state '{state}'; available now: {available}",
                     "动作 '{action}' 在状态 '{state}' 下不可用；当前可用：{available}"),
    "wrong_role": ("{actor} may not {action} {key}: it needs one of the roles {roles}",
                   "{actor} 无权对 {key} 执行 {action}：需要以下角色之一：{roles}"),
    "missing": ("{action} needs: {fields} (missing)", "{action} 需要填写：{fields}（缺失）"),
    "not_accepted": ("{action} does not take field '{field}'; it takes: {accepted}",
                     "{action} 不接受字段 '{field}'；可填写：{accepted}"),
    "guard": ("{action} is not allowed now: {reason}", "当前不允许 {action}：{reason}"),
    "criteria": ("{key} cannot enter '{state}': {failed}", "{key} 不能进入 '{state}'：{failed}"),
    "note_required": ("{action} needs a note (--note)", "{action} 需要填写备注（--note）"),
    "override": ("only {roles} may set the priority by hand, and only with a reason (--note)",
                 "只有 {roles} 可以手工设置优先级，且必须填写原因（--note）"),
    "none": ("none", "无"),
    # headings
    "key": ("Key", "编号"), "state": ("State", "状态"), "priority": ("Priority", "优先级"),
    "title": ("Title", "标题"), "assignee": ("Assignee", "处理人"), "group": ("Group", "处理组"),
    "service": ("Service", "服务"), "process": ("Process", "流程"), "updated": ("Updated", "更新时间"),
    "action": ("Action", "动作"), "to": ("To", "目标状态"), "requires": ("Requires", "需要字段"),
    "roles": ("Roles", "角色"), "at": ("At", "时间"), "actor": ("Actor", "执行人"),
    "on_behalf_of": ("{by} on behalf of {actor}", "{by} 代表 {actor}"),
    "label": ("Label", "名称"),
    "change": ("Change", "变化"), "note": ("Note", "备注"), "created": ("Created", "创建时间"),
    "reporter": ("Reporter", "报告人"), "sla": ("SLA", "SLA"), "fields": ("Fields", "字段"),
    "id": ("Id", "标识"), "name": ("Name", "姓名"), "email": ("E-mail", "电子邮件"),
    "groups": ("Groups", "所属组"), "site": ("Site", "地点"), "due": ("Due", "到期"),
    "met": ("met", "已满足"), "breached": ("breached", "已违约"), "running": ("running", "计时中"),
    "paused": ("paused", "已暂停"), "history": ("History", "处理记录"),
    "urgency_impact": ("Urgency / impact", "紧急程度 / 影响度"), "classification": ("Category", "类别"),
    "parent": ("Parent", "上级工单"), "opened": ("Opened", "已开启"),
    "attachment": ("Attachment", "附件"), "elapsed": ("elapsed", "已用"),
    "of": ("of", "/"), "override_label": ("override", "手工设置"), "due_inline": ("due", "到期"),
    "stays": ("(stays)", "（状态不变）"),
    "similar_solutions": ("Known solutions of similar tickets (itsm similar KEY):",
                          "相似工单的已知解决方案（itsm similar 编号）："),
    "no_matches": ("no ticket matches", "没有匹配的工单"),
    "no_similar": ("no resolved ticket with a solution looks like {key}",
                   "没有与 {key} 相似且已记录解决方案的已解决工单"),
    "solution": ("Solution", "解决方案"), "match": ("Match", "匹配内容"), "score": ("Score", "相关度"),
    "closure": ("Closure", "结束状态"), "reindexed": ("re-indexed {count} tickets", "已重建 {count} 个工单的索引"),
    "status_token": ("Status token (give it to the reporter)", "状态查询令牌（请告知报告人）"),
    "created_ticket": ("created {key}", "已创建 {key}"),
    "done": ("{key}: {action} -> {state}", "{key}：{action} -> {state}"),
}


def t(msg_id: str, lang: str = "en", **values: Any) -> str:
    en, zh = MESSAGES[msg_id]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text
