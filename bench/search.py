"""``itsm search`` over 1,000,000 tickets (issue #10), on SQLite.

Target: the engine's search answers within 100 ms (median over the query set)
on 1,000,000 tickets (``--quick``: 100,000 tickets, the target is for 1,000,000).

Data: a SQLite database with the real schema (``Store(url)``: Alembic creates
every table, the FTS5 table and its triggers), the bench agent (staff) and two
template incidents made by the engine (one open, one resolved), then
1,000,000 incidents (``--quick``: 100,000) bulk-inserted with ``executemany``:
ticket rows copied from the templates (so every NOT NULL column is as the
engine writes it) with generated text, and their ``search_text`` rows.  The
text is mixed Chinese and English (60 / 40), generated deterministically from a
seeded vocabulary of a few hundred phrases per language drawn with Zipf-like
weights, so some terms are common and many rare; about 60% of the tickets are
resolved and carry a solution, some have a workaround (``details``) and notes,
and descriptions mention host names and error codes (rare terms).  During the
load the three ``search_text`` triggers are dropped; afterwards the FTS table
is rebuilt and merged into one segment (``INSERT INTO search_fts(search_fts)
VALUES('rebuild')``, then ``'optimize'``, as ``itsm search --reindex`` does: a
rebuild's many segments would be merged, little by little, by every later
write) and the triggers are recreated from the SQL
SQLite stored for them (``sqlite_master``), i.e. exactly as migration 0013
made them.  The database is cached under ``~/.cache/itsm-bench/`` keyed by a
hash of the generator (the source between the data markers below), the
number of tickets and the schema revision (``engine.store.db.HEAD``), so only
the first run builds it.

Measured, alternately per query after one warm-up of each, medians over the
repetitions: (a) ``SearchIndex.find(Query(terms, limit=20))`` in a read
transaction of an opened ``Store`` (the engine path) and the whole
``engine.desk.search.search(api.desk, text)`` through an ``Api`` as a staff user (what
``itsm search`` runs, minus start-up and printing); (b) the baseline, the same
rows found by ``SearchIndex.scan_like(terms)``: a ``LIKE`` scan of
``search_text`` without the index (first 20 ids, unranked).  Reported per query
kind (median of the kind's per-query medians) and overall (median of all
per-query medians), with the ratio index / LIKE.  Every query is checked: each
index hit contains every term (and is resolved for resolved-only queries), the
index finds as many tickets as the LIKE scan (up to 20), and the same tickets
when there are fewer than 20 (rare queries).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from bench._util import (
    AGENT, GROUP, REPO, RESOLVE, Config, Result, median, new_incident, open_api, sqlite_url, value_below,
)

NAME = "search"
TARGET_MS = 100.0
LIMIT = 20
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "itsm-bench"

# --- data (the cache key hashes the source from here to the end marker) ---------------------------

SEED = 20260310
GENERATOR_VERSION = 1
ZH_SHARE = 0.6
RESOLVED_SHARE = 0.6
START = datetime(2025, 3, 1)  # naive UTC, as stored
SPAN = timedelta(days=365)

ZH_SYSTEMS = (
    "邮箱 打印机 VPN 电脑 无线网络 OA系统 共享盘 报销系统 网络 域账号 Outlook 财务系统 客户门户 视频会议 "
    "核心业务系统 人事系统 呼叫中心 手机银行 承保系统 考勤系统 CRM系统 扫描仪 显示器 电话分机 网银 "
    "数据仓库 报表平台 影像系统 保全系统 收付费系统 企业微信 统一认证平台 单点登录 文件服务器 堡垒机 "
    "门禁系统 合同管理系统 采购系统 资产管理系统 发票系统 电子签章 短信平台 支付网关 理赔系统 对账系统 "
    "代理人系统 培训平台 知识库 官网 微信小程序 再保系统 精算系统 反洗钱系统 税务申报系统 监控平台 "
    "备份系统 工单系统 移动展业App 双录系统 核保规则引擎").split()
ZH_SYMPTOMS = (
    "无法登录 响应缓慢 无法打开 报错 打不开 连接中断 频繁掉线 提示密码错误 账户被锁定 无法打印 页面白屏 "
    "无法访问 卡纸 登录超时 无法发送邮件 收不到邮件 查询超时 闪退 数据不一致 无法上传附件 导出失败 "
    "显示乱码 黑屏 无法启动 权限不足 证书过期 同步失败 蓝屏 审批流程卡住 无法提交 接口调用失败 "
    "磁盘空间不足 内存占用过高 服务中断 网络不通 没有声音 无法识别 驱动异常 时间不同步 安装失败 "
    "升级后异常 配置丢失 文件损坏 重复扣款 金额计算错误 弹出广告 无法连接投影 验证码收不到 "
    "二维码无法识别 签章失败").split()
ZH_SITES = ("上海分公司 北京分公司 广州分公司 深圳分公司 成都分公司 武汉分公司 杭州分公司 南京分公司 "
            "总部 营业部 客服中心 数据中心").split()
ZH_OPENERS = (
    "用户反映 客户来电反映 分公司同事反映 今天上午开始 从昨天下午开始 多名同事反映 柜面人员反映 "
    "客服坐席反映 在家办公时 出差期间 月底结账期间 夜间批处理期间 新员工入职后 更换电脑后 系统升级后 "
    "修改密码后 早上开机后 会议开始前 总部大楼 营业部").split()
ZH_DETAILS = (
    "重启电脑后仍然存在", "清除缓存后问题依旧", "换浏览器也不行", "其他同事正常", "影响业务办理",
    "客户正在柜台等待", "影响整个部门", "偶尔出现", "每次都能复现", "提示“系统繁忙，请稍后再试”",
    "提示“用户名或密码错误”", "提示“证书无效”", "截图已附", "错误信息见附件", "手机端正常", "电脑端正常",
    "仅Chrome浏览器出现", "使用Edge时正常", "网络测速正常", "已尝试重新安装", "急需处理",
    "领导要求今天解决", "影响月底报表", "影响客户理赔进度", "影响保单出单", "影响工资发放",
    "上周也出现过一次", "切换到手机热点后正常", "只在会议室出现", "外网可以访问", "内网无法访问",
    "账号是新开通的", "密码刚修改过", "已经等待半小时", "审批人出差", "附件大小约20MB",
    "打印出来是空白页", "右下角提示网络受限", "系统提示会话已过期", "重新登录后又断开")
ZH_SOLUTIONS = (
    "重置密码", "在AD中解锁账户", "清除浏览器缓存", "重新安装客户端", "更新驱动程序", "更换硒鼓", "重启服务",
    "扩容磁盘", "续期证书", "调整用户权限", "修复数据", "回滚到上一版本", "更换网线", "重新配置代理",
    "联系厂商处理", "安装安全补丁", "重建索引", "释放数据库连接池", "修改配置文件", "同步系统时间",
    "重新绑定手机", "更换电源适配器", "清理磁盘空间", "重新加入域", "重装操作系统", "恢复备份文件",
    "升级浏览器", "关闭兼容模式", "更换网卡", "重新分配IP地址", "刷新DNS缓存", "重新注册组件", "查杀病毒",
    "调整防火墙策略", "重新导入证书", "修复审批流程配置", "手工补录数据", "指导用户操作", "更新打印机固件",
    "重新配对蓝牙耳机")
ZH_SOLUTION_ENDS = ("后恢复正常", "后用户确认可以正常使用", "后问题解决", "，观察一天未再出现",
                    "，已告知用户注意事项", "后可以正常登录")
ZH_NOTES = (
    "已电话联系用户", "已远程协助", "等待厂商回复", "等待用户确认", "已升级到二线支持", "已转交网络组",
    "用户不在工位，稍后再联系", "已提交变更申请", "已安排现场支持", "需要备件，已下单", "正在复现问题",
    "已收集日志", "用户已确认", "已通知相关业务部门", "厂商已远程处理", "已发邮件说明处理进展")

EN_SYSTEMS = (
    "email", "Outlook", "the printer", "VPN", "the laptop", "Wi-Fi", "Teams", "SharePoint", "the shared drive",
    "the expense system", "the customer portal", "SAP", "Salesforce", "Jira", "Confluence",
    "the payroll system", "Zoom", "the HR portal", "the policy admin system", "the data warehouse",
    "Power BI", "the softphone", "the badge reader", "the scanner", "the monitor", "the docking station",
    "OneDrive", "Citrix", "the mobile app", "the intranet", "the CRM", "the ERP", "the reporting platform",
    "the document management system", "the mainframe terminal", "the SFTP server", "the API gateway",
    "the SMS gateway", "the payment gateway", "the e-signature service", "the SSO login page", "Okta",
    "the MFA app", "the time tracking system", "the procurement portal", "the asset register",
    "the invoice system", "Tableau", "the backup server", "the firewall", "the core switch", "the projector",
    "the desk phone", "the headset", "the webcam", "the USB token", "the claims system",
    "the license server", "the Kubernetes cluster", "the reinsurance system")
EN_SYMPTOMS = (
    "cannot log in", "is very slow", "disconnects every few minutes", "keeps crashing", "shows error 500",
    "times out", "will not start", "says the password expired", "account locked", "is not syncing",
    "shows a blank page", "cannot connect", "freezes", "cannot print", "paper jam", "cannot send email",
    "not receiving email", "certificate expired", "access denied", "upload fails", "export fails",
    "shows garbled text", "blue screen", "no sound", "not detected", "driver error", "clock out of sync",
    "installation fails", "broken after the update", "lost its settings", "file corrupted",
    "double charged", "wrong totals", "pop-up ads", "cannot find the network drive",
    "asks for MFA every time", "license expired", "out of disk space", "high CPU usage", "out of memory",
    "stuck in approval", "cannot submit the form", "API calls fail", "login loop",
    "keeps asking for credentials", "battery drains fast", "overheats", "screen flickers",
    "keyboard not working", "mouse lagging")
EN_SITES = ("Shanghai office", "Beijing office", "Hong Kong office", "Singapore office", "head office",
            "branch", "call center", "data center")
EN_OPENERS = (
    "User reports that", "Caller says", "Since this morning", "Since yesterday afternoon",
    "Several colleagues report that", "After the weekend patch,", "While working from home,",
    "During month-end close,", "A new starter reports that", "After the password change,",
    "On the 3rd floor,", "At the branch,", "After moving desks,", "Since the laptop was replaced,",
    "During the overnight batch,", "Before the board meeting,")
EN_DETAILS = (
    "Restarting did not help.", "Clearing the cache did not help.", "Other users are fine.",
    "Blocks customer service.", "Customer is waiting on the phone.", "The whole team is affected.",
    "Happens intermittently.", "Reproducible every time.", "Error: \"The remote server returned an error\".",
    "Screenshot attached.", "Works on mobile.", "Only in Chrome.", "Works in Edge.",
    "Network speed test is fine.", "Already tried reinstalling.", "Urgent, manager escalated.",
    "Month-end reports are blocked.", "Payroll run is tomorrow.", "Happened last week too.",
    "Works on the hotspot.", "Only in the meeting room.", "Works from outside.", "Fails on the LAN.",
    "Account was created yesterday.", "Password was changed this morning.", "Waiting for 30 minutes now.",
    "Approver is travelling.", "Attachment is about 20 MB.", "Prints blank pages.",
    "Tray icon says limited connectivity.", "Session expired message.", "Drops again after logging in.")
EN_SOLUTIONS = (
    "Reset the password", "Unlocked the account in AD", "Reinstalled the VPN client", "Cleared the browser cache",
    "Updated the driver", "Replaced the toner", "Restarted the service", "Extended the disk",
    "Renewed the certificate", "Granted the missing permission", "Fixed the data",
    "Rolled back to the previous version", "Replaced the network cable", "Reconfigured the proxy",
    "Escalated to the vendor", "Installed the security patch", "Rebuilt the index",
    "Recycled the connection pool", "Corrected the configuration file", "Resynced the system clock",
    "Re-registered the MFA device", "Replaced the power adapter", "Freed up disk space", "Rejoined the domain",
    "Reimaged the laptop", "Restored the file from backup", "Upgraded the browser",
    "Disabled compatibility mode", "Replaced the network card", "Renewed the DHCP lease",
    "Flushed the DNS cache", "Re-registered the component", "Removed the malware", "Adjusted the firewall rule",
    "Reimported the certificate", "Fixed the approval workflow", "Re-entered the data manually",
    "Walked the user through the steps", "Updated the printer firmware", "Re-paired the Bluetooth headset")
EN_SOLUTION_ENDS = ("; working since.", "; user confirmed.", " and the issue is resolved.",
                    "; monitored for a day, no recurrence.", "; advised the user.", "; login works again.")
EN_NOTES = (
    "Called the user back.", "Remote session done.", "Waiting for the vendor.", "Waiting for user confirmation.",
    "Escalated to second line.", "Passed to the network team.", "User away from desk, will call later.",
    "Change request raised.", "On-site visit scheduled.", "Spare part ordered.", "Trying to reproduce.",
    "Logs collected.", "User confirmed.", "Business owner informed.", "Vendor fixed it remotely.",
    "Sent an update by email.")

HOST_CITIES = "sh bj gz sz cd wh hz nj".split()
HOST_DEPTS = "fin hr clm uw it ops sales cs act aud".split()
HOST_ROLES = "db app web fs prn sw".split()


def _error_codes() -> list[str]:
    """About 120 error codes, most frequent first."""
    codes = ["HTTP 500", "HTTP 502", "HTTP 403", "HTTP 404", "0x80070005", "ORA-01017", "ORA-12170",
             "ERR_CONNECTION_RESET", "ERR_CERT_DATE_INVALID", "java.lang.NullPointerException"]
    r = random.Random(SEED + 1)
    while len(codes) < 120:
        kind = r.randrange(4)
        code = (f"0x8007{r.randrange(16**4):04X}" if kind == 0 else f"ORA-{r.randrange(100000):05d}"
                if kind == 1 else f"KB50{r.randrange(10**5):05d}" if kind == 2 else f"E{r.randrange(10**4):04d}")
        if code not in codes:
            codes.append(code)
    return codes


def _zipf(items: Sequence[Any], s: float = 1.05) -> tuple[Sequence[Any], list[float]]:
    """The items with cumulative Zipf weights: the first is common, the last rare."""
    cum, total = [], 0.0
    for rank in range(len(items)):
        total += 1.0 / (rank + 1) ** s
        cum.append(total)
    return items, cum


class Generator:
    """Deterministic ticket text: ``chunk(start, n)`` gives the same rows on every machine."""

    def __init__(self) -> None:
        self.zh = {k: _zipf(v) for k, v in (
            ("system", ZH_SYSTEMS), ("symptom", ZH_SYMPTOMS), ("site", ZH_SITES), ("opener", ZH_OPENERS),
            ("detail", ZH_DETAILS), ("solution", ZH_SOLUTIONS), ("end", ZH_SOLUTION_ENDS), ("note", ZH_NOTES))}
        self.en = {k: _zipf(v) for k, v in (
            ("system", EN_SYSTEMS), ("symptom", EN_SYMPTOMS), ("site", EN_SITES), ("opener", EN_OPENERS),
            ("detail", EN_DETAILS), ("solution", EN_SOLUTIONS), ("end", EN_SOLUTION_ENDS), ("note", EN_NOTES))}
        self.codes = _zipf(_error_codes(), 1.1)
        self.hosts = [f"{c}-{d}-{r}{n:02d}" for c in HOST_CITIES for d in HOST_DEPTS for r in HOST_ROLES
                      for n in range(1, 41)]  # 19,200 names, uniform: each rare

    def chunk(self, start: int, n: int) -> Iterator[dict[str, Any]]:
        """Tickets start .. start + n - 1 (0-based), each a dict of its text and state."""
        rng = random.Random(SEED * 1_000_003 + start)

        def draw(table: tuple[Sequence[Any], list[float]]) -> list[Any]:
            return rng.choices(table[0], cum_weights=table[1], k=n)

        cols: dict[str, dict[str, list[Any]]] = {}
        for lang, vocab in (("zh", self.zh), ("en", self.en)):
            cols[lang] = {k: draw(v) for k, v in vocab.items()}
            for k, table in (("symptom2", "symptom"), ("detail2", "detail"), ("detail3", "detail"),
                             ("solution2", "solution"), ("note2", "note"), ("note3", "note"),
                             ("workaround", "solution")):
                cols[lang][k] = draw(vocab[table])
        codes = draw(self.codes)
        for i in range(n):
            u = rng.random
            lang = "zh" if u() < ZH_SHARE else "en"
            c = {k: v[i] for k, v in cols[lang].items()}
            resolved = u() < RESOLVED_SHARE
            system, symptom = c["system"], c["symptom"]
            pattern = u()
            extra = ""
            if u() < 0.25:
                extra = f" {rng.choice(self.hosts)}"
            if u() < 0.2:
                extra += f" {codes[i]}"
            if lang == "zh":
                title = (f"{system}{symptom}" if pattern < 0.7 else f"{c['site']}{system}{symptom}"
                         if pattern < 0.9 else f"{symptom}：{system}")
                desc = f"{c['opener']}{system}{symptom}，{c['detail']}。"
                if u() < 0.6 and c["detail2"] != c["detail"]:
                    desc += f"{c['detail2']}。"
                if u() < 0.4 and c["symptom2"] != symptom:
                    desc += f"有时还会{c['symptom2']}，{c['detail3']}。"
                if extra:
                    desc += f"相关信息：{extra.strip()}。"
                if u() < 0.5:
                    desc += f"联系电话：分机{rng.randrange(2000, 9000)}。"
                solution = ""
                if resolved:
                    solution = c["solution"] + (f"并{c['solution2']}" if u() < 0.3 else "") + c["end"]
                    if extra and u() < 0.3:
                        solution += f"（{extra.strip()}）"
                details = f"临时方案：{c['workaround']}" if u() < 0.1 else ""
            else:
                title = (f"{system[0].upper()}{system[1:]} {symptom}" if pattern < 0.7
                         else f"{c['site'].capitalize()}: {system} {symptom}" if pattern < 0.9
                         else f"{symptom.capitalize()} ({system})")
                desc = f"{c['opener']} {system} {symptom}. {c['detail']}"
                if u() < 0.6 and c["detail2"] != c["detail"]:
                    desc += f" {c['detail2']}"
                if u() < 0.4 and c["symptom2"] != symptom:
                    desc += f" Sometimes it also {c['symptom2']}. {c['detail3']}"
                if extra:
                    desc += f" Affected:{extra}."
                if u() < 0.5:
                    desc += f" Call back on ext. {rng.randrange(2000, 9000)}."
                solution = ""
                if resolved:
                    solution = c["solution"] + (f", then {c['solution2'][0].lower()}{c['solution2'][1:]}"
                                                if u() < 0.3 else "") + c["end"]
                    if extra and u() < 0.3:
                        solution += f" ({extra.strip()})"
                details = f"Workaround: {c['workaround']}" if u() < 0.1 else ""
            k = u()
            notes = [] if k < 0.6 else [c["note"]] if k < 0.85 else [c["note"], c["note2"]] if k < 0.95 \
                else [c["note"], c["note2"], c["note3"]]
            yield {"title": title, "description": desc, "solution": solution, "details": details,
                   "notes": "\n".join(notes), "resolved": resolved, "created_offset": u()}


def build(db: Path, total: int) -> dict[str, Any]:
    """A fresh database ``db`` of ``total`` incidents (two made by the engine)."""
    import sqlalchemy as sa

    from engine.store.schema import tickets
    from engine.store.search import FTS_TABLES, bigrams

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    api = open_api(sqlite_url(db), now="2025-03-01T08:00:00+00:00")  # schema by Alembic, staff user
    open_key = new_incident(api, "Bench template (open)")
    resolved_key = new_incident(api, "Bench template (resolved)")
    api.do(resolved_key, "assign", {"group": GROUP, "assignee": AGENT})
    api.do(resolved_key, "start", {})
    api.do(resolved_key, "resolve", dict(RESOLVE))
    with api.store.read() as repo:
        templates = {}
        for key in (open_key, resolved_key):
            row = repo.conn.execute(sa.select(tickets).where(tickets.c.key == key)).mappings().one()
            templates[key] = dict(row)
    api.store.close()

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")  # a bulk load into an empty file: no WAL copy
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-200000")
    columns = [r[1] for r in conn.execute("PRAGMA table_info(tickets)")]
    raw = {key: dict(zip(columns, conn.execute("SELECT * FROM tickets WHERE key = ?", (key,)).fetchone()))
           for key in (open_key, resolved_key)}
    assert raw[resolved_key]["resolved_at"] is not None and raw[open_key]["resolved_at"] is None
    resolved_fields = templates[resolved_key]["fields"]
    offsets = {key: {c: (datetime.fromisoformat(raw[key][c]) - datetime.fromisoformat(raw[key]["created_at"]))
                     for c in ("updated_at", "state_entered_at", "resolved_at", "sla_due_at", "sla_warn_at")
                     if raw[key][c] is not None} for key in raw}
    triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                            "AND tbl_name = 'search_text' ORDER BY name").fetchall()
    assert len(triggers) == 3, triggers  # the changes noted for the index to catch up (0013)
    first_id = conn.execute("SELECT max(id) FROM tickets").fetchone()[0] + 1
    prefix = open_key.rsplit("-", 1)[0]
    t_sql = f"INSERT INTO tickets ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    s_sql = ("INSERT INTO search_text (ticket_id, title, description, solution, details, notes, "
             "title_grams, text_grams, notes_grams) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    gen = Generator()
    n = total - (first_id - 1)
    chunk = 50_000
    conn.execute("BEGIN")
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    for start in range(0, n, chunk):
        t_rows, s_rows = [], []
        for i, doc in enumerate(gen.chunk(start, min(chunk, n - start)), start):
            tid = first_id + i
            key = open_key if not doc["resolved"] else resolved_key
            row = dict(raw[key])
            created = START + SPAN * ((i + doc["created_offset"]) / n)
            row.update(id=tid, key=f"{prefix}-{tid:06d}", title=doc["title"], description=doc["description"],
                       token_hash=None, created_at=_ts(created),
                       **{c: _ts(created + d) for c, d in offsets[key].items()})
            if doc["resolved"]:
                row["fields"] = json.dumps(dict(resolved_fields, solution=doc["solution"]), ensure_ascii=False)
            t_rows.append(tuple(row[c] for c in columns))
            s_rows.append((tid, doc["title"], doc["description"], doc["solution"], doc["details"], doc["notes"],
                           bigrams(doc["title"]),
                           bigrams("\n".join((doc["description"], doc["solution"], doc["details"]))),
                           bigrams(doc["notes"])))
        conn.executemany(t_sql, t_rows)
        conn.executemany(s_sql, s_rows)
    conn.execute("UPDATE key_sequences SET last_value = ? WHERE prefix = ?", (first_id - 1 + n, prefix))
    loaded = time.perf_counter() - started
    conn.execute("DELETE FROM search_pending")  # the rebuild indexes everything (SearchIndex.rebuild)
    for table in FTS_TABLES:  # as SearchIndex.rebuild does after a bulk load: rebuild, then merge
        conn.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
        conn.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
    for _, sql in triggers:  # exactly as migration 0013 created them
        conn.execute(sql)
    conn.execute("COMMIT")
    indexed = time.perf_counter() - started - loaded
    conn.execute("PRAGMA journal_mode=WAL")  # as the engine opens it
    conn.close()
    count = sqlite3.connect(db).execute("SELECT count(*) FROM tickets").fetchone()[0]
    assert count == total, (count, total)
    return {"tickets": total, "build_seconds": round(time.perf_counter() - started, 1),
            "load_seconds": round(loaded, 1), "fts_rebuild_seconds": round(indexed, 1),
            "db_mb": round(db.stat().st_size / 2**20), "sqlite": sqlite3.sqlite_version}


def _ts(t: datetime) -> str:
    return t.isoformat(sep=" ", timespec="microseconds")

# --- end of data -----------------------------------------------------------------------------------


def cache_key(total: int) -> str:
    from engine.store.db import HEAD

    source = Path(__file__).read_text(encoding="utf-8")
    data = source[source.index("# --- data"):source.index("# --- end of data")]
    # every migration, not only the head: a migration merged below the head (ids are
    # names, not an order) changes the schema under the same head
    versions = sorted(p.name for p in (REPO / "engine" / "store" / "migrations" / "versions").glob("0*.py"))
    return hashlib.sha256(f"{data}\n{total}\n{HEAD}\n{versions}".encode()).hexdigest()[:16]


def cached_db(cfg: Config, total: int) -> tuple[Path, dict[str, Any]]:
    """The cached database of ``total`` tickets, built first if missing."""
    CACHE.mkdir(parents=True, exist_ok=True)
    key = cache_key(total)
    db = CACHE / f"search-{total}-{key}.db"
    meta_path = CACHE / f"search-{total}-{key}.json"
    if db.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        meta["cached"] = True
        return db, meta
    for old in CACHE.glob(f"search-{total}-*"):  # of an older generator or schema
        old.unlink(missing_ok=True)
    tmp = CACHE / f"search-{total}-{key}.building-{os.getpid()}.db"
    print(f"   building {total:,} tickets in {tmp} (once; later runs reuse it) ...", flush=True)
    cfg.apply_env()
    meta = build(tmp, total)
    meta["key"] = key
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    tmp.rename(db)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"   built in {meta['build_seconds']} s (load {meta['load_seconds']} s, FTS rebuild "
          f"{meta['fts_rebuild_seconds']} s), {meta['db_mb']:,} MB: {db}", flush=True)
    meta["cached"] = False
    return db, meta


# --- the queries ---------------------------------------------------------------------------------

# (kind, query text as typed to `itsm search`, resolved only)
QUERIES: tuple[tuple[str, str, bool], ...] = (
    ("Chinese, two terms", "理赔系统 无法登录", False),
    ("Chinese, two terms", "再保系统 证书过期", False),
    ("Chinese, two terms", "双录系统 签章失败", False),
    ("English, common term", "password", False),
    ("English, common term", "printer", False),
    ("English, common term", "VPN", False),
    ("Chinese, common term", "无法登录", False),
    ("phrase", '"cannot log in"', False),
    ("phrase", '"清除浏览器缓存"', False),
    ("phrase", '"Reinstalled the VPN client"', False),
    ("English, rare term", "sh-fin-db07", False),
    ("English, rare term", "ORA-35881", False),
    ("English, rare term", "reinsurance", False),
    ("English, two terms", "Outlook cannot", False),
    ("resolved only", "VPN", True),
    ("resolved only", "重置密码", True),
    ("resolved only", "docking station", True),
    ("2-character Chinese term", "理赔系统 登录", False),
    ("2-character Chinese term", "打印机 卡纸", False),
    ("2-character Chinese term, alone", "卡纸", False),
    ("2-character Chinese term, alone", "登录", False),
    ("2-character Chinese term, alone", "网络", False),
    ("2-character Chinese term, alone", "密码", False),
    ("2-character Chinese term, alone", "黑屏", False),
)


def _contains(row: dict[str, Any], terms: Sequence[str]) -> bool:
    doc = " ".join(str(row.get(f"text_{c}") or "") for c in ("title", "description", "solution", "details",
                                                              "notes")).lower()
    return all(" ".join(t.split()).lower() in doc for t in terms)


def measure(reps: int, fns: dict[str, Callable[[], Any]]) -> dict[str, list[float]]:
    """Seconds of each callable, alternating (in the given order) after one warm-up each."""
    for fn in fns.values():
        fn()
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            out[k].append(time.perf_counter() - t0)
    return out


def run(cfg: Config) -> list[Result]:
    from engine.api import Api
    from engine.desk.search import query_terms, search
    from engine.store.repository import Store
    from engine.store.search import Query

    total = cfg.pick(100_000, 1_000_000)
    reps = cfg.pick(3, 5, 7)
    db, meta = cached_db(cfg, total)
    cfg.apply_env()
    url = sqlite_url(db)
    store = Store(url)
    api = Api.open(home=str(REPO), db=url, user=AGENT)
    per_query: list[dict[str, Any]] = []
    for kind, text, resolved in QUERIES:
        terms = query_terms(text)
        q = Query(terms=terms, resolved_only=resolved, limit=LIMIT)
        got: dict[str, Any] = {}

        def like(got: dict[str, Any] = got, terms: list[str] = terms, resolved: bool = resolved) -> None:
            with store.read() as repo:
                got["like"] = repo.search.scan_like(terms, limit=LIMIT, resolved_only=resolved)

        def find(got: dict[str, Any] = got, q: Query = q) -> None:
            with store.read() as repo:
                got["find"] = repo.search.find(q)

        def full(got: dict[str, Any] = got, text: str = text, resolved: bool = resolved) -> None:
            got["search"] = search(api.desk, text, resolved=resolved, limit=LIMIT)

        samples = measure(reps, {"like": like, "find": find, "search": full})
        hits, like_ids = got["find"], got["like"]
        bad = [r["key"] for r in hits if not _contains(r, terms) or (resolved and r["resolved_at"] is None)]
        assert not bad, (text, "index hits without the terms", bad[:5])
        assert len(hits) == len(like_ids), (text, "index found", len(hits), "LIKE found", len(like_ids))
        if len(like_ids) < LIMIT:  # every match: the same tickets
            assert {r["id"] for r in hits} == set(like_ids), (text, "different tickets")
        assert [h["key"] for h in got["search"]] == [r["key"] for r in hits], (text, "search() != find()")
        per_query.append({"kind": kind, "query": text, "resolved_only": resolved, "hits": len(hits),
                          "find_ms": median(samples["find"]) * 1000, "search_ms": median(samples["search"]) * 1000,
                          "like_ms": median(samples["like"]) * 1000,
                          "samples_ms": {k: [round(s * 1000, 2) for s in v] for k, v in samples.items()}})
        pq = per_query[-1]
        print(f"   {kind:32} {text:30} hits {pq['hits']:>2}  find {pq['find_ms']:8.1f} ms  search() "
              f"{pq['search_ms']:8.1f} ms  LIKE {pq['like_ms']:8.1f} ms", flush=True)
    store.close()
    api.store.close()
    return results(cfg, total, meta, per_query)


def results(cfg: Config, total: int, meta: dict[str, Any], per_query: list[dict[str, Any]]) -> list[Result]:
    size = f"{total:,} tickets"
    note_q = "--quick: 100,000 tickets (the target is for 1,000,000)" if total < 1_000_000 else ""
    built = ("cached database" if meta.get("cached") else "built now") + \
        f", build {meta['build_seconds']} s, {meta['db_mb']:,} MB"
    out: list[Result] = []
    kinds = list(dict.fromkeys(p["kind"] for p in per_query))
    for kind in kinds:
        ps = [p for p in per_query if p["kind"] == kind]
        out.append(Result(NAME, f"find, {kind} ({len(ps)} quer{'y' if len(ps) == 1 else 'ies'}, {size})",
                          median([p["find_ms"] for p in ps]), "ms", median([p["like_ms"] for p in ps]),
                          "LIKE scan, same rows", samples=[p["find_ms"] for p in ps],
                          baseline_samples=[p["like_ms"] for p in ps], extra={"queries": ps}))
    finds = [p["find_ms"] for p in per_query]
    likes = [p["like_ms"] for p in per_query]
    fulls = [p["search_ms"] for p in per_query]
    overall = Result(NAME, f"SearchIndex.find, all {len(per_query)} queries ({size})", median(finds), "ms",
                     median(likes), "LIKE scan, same rows", samples=finds, baseline_samples=likes,
                     extra=dict(meta, queries=per_query))
    value_below(overall, TARGET_MS)
    full = Result(NAME, f"engine.desk.search.search, all {len(per_query)} queries ({size})", median(fulls), "ms",
                  median(likes), "LIKE scan, same rows", samples=fulls, baseline_samples=likes)
    value_below(full, TARGET_MS)
    overall.note = "; ".join(x for x in (note_q, built) if x)
    full.note = note_q
    worst = max(per_query, key=lambda p: p["find_ms"])
    out.append(Result(NAME, f"slowest query: {worst['query']} ({worst['kind']})", worst["find_ms"], "ms",
                      worst["like_ms"], "LIKE scan, same rows"))
    out += [overall, full]
    return out
