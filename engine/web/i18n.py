"""The portal's own words in English and Chinese, and the choice of language:
``?lang=zh|en``, else the browser's Accept-Language, else the deployment's
default.  Labels of services, offerings, fields and states come from the
definitions."""

from __future__ import annotations

LANGS = ("en", "zh")

WORDS: dict[str, tuple[str, str]] = {
    "site": ("IT Service Desk", "IT 服务台"),
    "skip": ("Skip to the main content", "跳到主要内容"),
    "language": ("Language", "语言"),
    "other_lang": ("中文", "English"),
    "report_heading": ("Report a problem or ask for something", "报告问题或提出服务请求"),
    "report_intro": ("Tell us what is wrong, or choose what you need from the service catalogue. "
                     "You will get a ticket number and a personal link to follow it.",
                     "请告诉我们出了什么问题，或从服务目录中选择您需要的服务。提交后您会得到工单编号和用于查询进度的个人链接。"),
    "search_heading": ("Find a solution yourself", "先自助查找解决方法"),
    "search_intro": ("Many problems have a known solution. Describe yours in a few words; "
                     "if nothing helps, log a ticket below.",
                     "很多问题已有解决方法。请用几个词描述您的问题；如果没有帮助，请在下方提交工单。"),
    "search_label": ("Describe the problem", "描述问题"),
    "search_button": ("Search solutions", "查找解决方法"),
    "search_results": ("Known solutions", "已知解决方法"),
    "search_none": ("No known solution matches. Please log a ticket below.",
                    "没有找到匹配的已知解决方法，请在下方提交工单。"),
    "search_still": ("Not solved? Log a ticket below: we have kept your words as its summary.",
                     "问题仍未解决？请在下方提交工单，我们已将您的描述填入简要说明。"),
    "what_need": ("What do you need?", "您需要什么？"),
    "kind_incident": ("Something is broken or not working (incident)", "有东西坏了或无法使用（突发事件）"),
    "offerings": ("Service requests", "服务请求"),
    "choose": ("Continue", "继续"),
    "your_email": ("Your e-mail address", "您的电子邮件地址"),
    "email_hint": ("We send the ticket number and updates here.", "我们会把工单编号和进展发送到这个地址。"),
    "title": ("Short summary", "简要说明"),
    "description": ("Description", "详细描述"),
    "description_hint": ("What happened, since when, error messages, who is affected.",
                         "发生了什么、从什么时候开始、错误提示、影响了哪些人。"),
    "service": ("Service", "服务"),
    "service_unknown": ("I don't know", "不清楚"),
    "urgency": ("Urgency", "紧急程度"),
    "details": ("Details of the request", "请求详情"),
    "approval_needed": ("This request needs a manager's approval.", "此请求需要经理审批。"),
    "submit": ("Send", "提交"),
    "required": ("required", "必填"),
    "error_heading": ("Please check the form", "请检查表单"),
    "ack_heading": ("Thank you: your ticket is logged", "谢谢，您的工单已登记"),
    "ack_key": ("Ticket number", "工单编号"),
    "self_help": ("Solutions that helped with similar problems", "类似问题的已知解决方法"),
    "self_help_note": ("If one of them solves your problem, you can confirm it on the status page "
                       "once the service desk has answered; we are working on your ticket either way.",
                       "如果其中某个方法解决了您的问题，可在服务台答复后于状态页面确认；无论如何我们都会处理您的工单。"),
    "ack_link": ("Follow it here (this link is personal: do not share it)",
                 "在此查询进度（此链接仅供您本人使用，请勿转发）"),
    "ack_mail": ("We have also sent this link to {email}.", "我们也已将此链接发送至 {email}。"),
    "status_heading": ("Ticket {key}", "工单 {key}"),
    "status_lookup": ("Follow a ticket", "查询工单"),
    "status_lookup_intro": ("Enter the ticket number and the access code from your acknowledgement.",
                            "请输入确认消息中的工单编号和查询码。"),
    "key": ("Ticket number", "工单编号"),
    "token": ("Access code", "查询码"),
    "show": ("Show", "查询"),
    "state": ("Status", "状态"),
    "priority": ("Priority", "优先级"),
    "handled_by": ("Handled by", "处理组"),
    "due": ("Expected by", "预计完成时间"),
    "solution": ("Solution", "解决方案"),
    "workaround": ("Workaround", "临时解决办法"),
    "fulfilment_note": ("Fulfilment", "完成说明"),
    "offering": ("Requested", "申请的服务项"),
    "updates": ("Updates", "处理进展"),
    "no_updates": ("No updates yet.", "暂无进展。"),
    "reply_heading": ("Answer the desk", "答复服务台"),
    "reply_label": ("Your answer (the desk's questions are in the updates below)", "您的答复（服务台的问题见下方处理进展）"),
    "reply_files": ("Files (screenshots, logs)", "附件（截图、日志等）"),
    "reply_send": ("Send answer", "发送答复"),
    "files_heading": ("Files", "附件"),
    "you": ("You", "您"),
    "done_reply": ("Thank you: your answer was added to the ticket.", "谢谢，您的答复已添加到工单。"),
    "your_actions": ("Is it solved?", "问题解决了吗？"),
    "done_confirm": ("Thank you for confirming. The ticket is closed.", "感谢您的确认，工单已关闭。"),
    "done_other": ("Done: {action}.", "已完成：{action}。"),
    "not_found": ("No ticket with that number and access code.", "没有与该编号和查询码对应的工单。"),
    "csrf": ("The form has expired or was not sent from this site. Reload the page and try again.",
             "表单已过期或并非从本站提交。请刷新页面后重试。"),
    "error": ("Something went wrong", "出错了"),
    "no_page": ("This page does not exist.", "页面不存在。"),
    "back": ("Back to the form", "返回表单"),
    "new_ticket": ("Report something else", "报告其他问题"),
    # the agent console (/desk)
    "desk": ("Agent console", "服务台控制台"),
    "login": ("Log in", "登录"),
    "logout": ("Log out", "退出"),
    "user": ("User (id or e-mail)", "用户（编号或电子邮件）"),
    "password": ("Password", "密码"),
    "login_failed": ("User or password is wrong.", "用户名或密码错误。"),
    "err_malformed": ("The request could not be read: {problems}", "无法读取该请求：{problems}"),
    "err_no_page": ("No such page: {path}", "没有这个页面：{path}"),
    "err_too_large": ("The request body is larger than {limit} bytes.", "请求内容超过 {limit} 字节。"),
    "err_http": ("The request was refused ({status}).", "请求被拒绝（{status}）。"),
    "console_not_allowed": ("This account's roles do not give access to the agent console.",
                            "此账号的角色不能使用坐席控制台。"),
    "q_mine": ("Mine", "我的"),
    "q_groups": ("My groups'", "我组的"),
    "q_unassigned": ("Unassigned", "未分派"),
    "q_breached": ("Breached", "已超时"),
    "q_at_risk": ("At risk", "即将超时"),
    "q_waiting": ("Waiting on the user", "等待用户"),
    "q_major": ("Major incidents", "重大事件"),
    "filter": ("Filter", "筛选"),
    "apply": ("Apply", "应用"),
    "title_col": ("Title", "标题"),
    "assignee": ("Assignee", "处理人"),
    "time_left": ("Business time left", "剩余工作时间"),
    "none_here": ("No tickets in this queue.", "此队列中没有工单。"),
    "fields": ("Fields", "字段"),
    "clocks": ("SLA clocks", "SLA 计时"),
    "history": ("History", "历史"),
    "internal": ("internal", "内部"),
    "public": ("public", "公开"),
    "links": ("Linked tickets", "关联工单"),
    "similar": ("Similar resolved tickets", "类似的已解决工单"),
    "reuse": ("Use this solution", "使用此解决方案"),
    "actions": ("Actions", "操作"),
    "no_actions": ("You may take no action on this ticket now.", "您现在不能对此工单执行任何操作。"),
    "note": ("Note", "备注"),
    "changed": ("This ticket changed meanwhile: reload it and try again.", "此工单已被他人修改，请刷新后重试。"),
    "reload": ("Reload", "刷新"),
    "new_incident": ("Hotline intake", "热线登记"),
    "caller": ("Caller (e-mail or phone)", "来电人（电子邮件或电话）"),
    "find": ("Find", "查找"),
    "preview": ("Preview priority", "预览优先级"),
    "resulting_priority": ("Resulting priority", "得出的优先级"),
    "impact": ("Impact", "影响范围"),
    "save": ("Save", "保存"),
    "board": ("Major-incident board", "重大事件看板"),
    "next_update": ("Next update due", "下次通报时间"),
    "due_col": ("Due", "到期"),
    "add_note": ("Add a note", "添加备注"),
    "add_public": ("Add a public note (the user sees it)", "添加公开备注（用户可见）"),
    "add_internal": ("Add an internal note (staff only)", "添加内部备注（仅员工可见）"),
    "note_hint": ("An internal note is seen only by staff who may read internal notes.",
                  "内部备注只有可查看内部备注的员工能看到。"),
    "no_process": ("Choose what to log: you may log none of the processes offered.",
                   "请选择要登记的类型：您不能登记所列的任何流程。"),
    "process": ("What is it?", "类型"),
    "approval": ("needs approval", "需审批"),
    "offering_pick": ("Requested offering", "申请的服务项"),
    "choose_process": ("Show its fields", "显示字段"),
    "declare_heading": ("Declare a major incident", "申报重大事件"),
    "declare_key": ("From incident (ticket number)", "来源突发事件（工单编号）"),
    "declare_go": ("Show the form", "显示表单"),
    "no_ticket": ("No ticket {key}.", "没有工单 {key}。"),
    "no_declare": ("You may not declare a major incident from {key} now.", "您现在不能从 {key} 申报重大事件。"),
    "linked_open": ("Open linked incidents", "未解决的关联事件"),
    "roles": ("Manager / technical lead / communications", "经理 / 技术负责人 / 沟通负责人"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "count": ("{first}–{last} of {total} tickets", "共 {total} 张工单，第 {first}–{last} 张"),
    "count_none": ("0 tickets", "0 张工单"),
    "pages": ("Pages", "分页"),
    "prev": ("Previous", "上一页"),
    "next": ("Next", "下一页"),
    "page_of": ("Page {page} of {pages}", "第 {page} 页，共 {pages} 页"),
    "unknown_caller": ("No person with that e-mail or phone.", "没有该电子邮件或电话对应的人员。"),
    # a linked ticket's status category (engine.model.CATEGORIES), on the console's ticket page
    "cat_new": ("new", "新建"), "cat_active": ("active", "处理中"), "cat_pending": ("pending", "等待中"),
    "cat_resolved": ("resolved", "已解决"), "cat_closed": ("closed", "已关闭"),
}


def t(word: str, lang: str, **values: object) -> str:
    en, zh = WORDS[word]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text


def negotiate(query: str | None, accept_language: str | None, default: str = "en") -> str:
    """``?lang=`` wins; else the best of Accept-Language (q-values honoured)."""
    if query in LANGS:
        return query  # type: ignore[return-value]
    best: tuple[float, str] | None = None
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        if lang not in LANGS:
            continue
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0 and (best is None or q > best[0]):
            best = (q, lang)
    return best[1] if best else (default if default in LANGS else "en")
