"""The weekly report as a printable PDF (A4), in Chinese or English.

ReportLab draws it with its built-in CID font STSong-Light (Adobe-GB1): it renders every
Chinese character of the labels and of people's names with no font file to ship, keeps
the file small, and its text extracts as Unicode (the tests read it back with pypdf).
The font is not embedded: a viewer draws it with its own Song/Ming face, as every PDF
reader with Chinese support does.
"""
from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"
LANGUAGES = ("zh-CN", "en")

LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "周报", "company": "全公司", "team": "团队：{name}",
        "period": "{week}（{start} 至 {end}，{tz}）", "engineers": "工程师 {n} 人",
        "activity": "工作量", "kpis": "关键指标", "item": "项目", "week": "本周",
        "previous_week": "上周", "change": "变化", "month_to_date": "本月累计",
        "month_target": "本月目标", "records": "样本",
        "below_target": "低于目标最多的工程师（本月实时）", "name": "姓名",
        "total_score": "总分", "pass_score": "及格分", "points_below": "差距",
        "none_below": "无人低于目标。", "open_alerts": "未处理预警", "kind": "类型",
        "count": "数量", "no_alerts": "没有未处理的预警。", "total": "合计",
        "generated": "生成于 {at}",
        "jobs_reported": "新报工单", "jobs_closed": "关闭工单", "visits": "上门次数",
        "flagged_visits": "被标记的上门", "approved": "审核通过", "rejected": "审核驳回",
        "first_time_fix_rate": "首次修复率 (%)", "first_contact_minutes": "首次联系时长（分钟）",
        "dispatch_minutes": "派工时长（分钟）", "arrival_minutes": "到场时长（分钟）",
        "nps": "净推荐值 NPS", "complaints": "投诉",
        "NEGATIVE_FEEDBACK": "差评", "KEYWORD": "关键词", "SLA_RISK": "SLA 风险",
        "FLAG_PATTERN": "异常标记模式",
    },
    "en": {
        "title": "Weekly report", "company": "Company", "team": "Team: {name}",
        "period": "{week} ({start} to {end}, {tz})", "engineers": "{n} engineers",
        "activity": "Activity", "kpis": "KPIs", "item": "Item", "week": "This week",
        "previous_week": "Last week", "change": "Change", "month_to_date": "Month to date",
        "month_target": "Month target", "records": "n",
        "below_target": "Engineers furthest below target (this month, live)", "name": "Name",
        "total_score": "Total", "pass_score": "Pass mark", "points_below": "Below by",
        "none_below": "No engineer is below target.", "open_alerts": "Open alerts",
        "kind": "Kind", "count": "Count", "no_alerts": "No open alerts.", "total": "Total",
        "generated": "Generated {at}",
        "jobs_reported": "Jobs reported", "jobs_closed": "Jobs closed", "visits": "Visits",
        "flagged_visits": "Flagged visits", "approved": "Approved", "rejected": "Rejected",
        "first_time_fix_rate": "First-time fix (%)",
        "first_contact_minutes": "First contact (min)", "dispatch_minutes": "Dispatch (min)",
        "arrival_minutes": "Arrival (min)", "nps": "NPS", "complaints": "Complaints",
        "NEGATIVE_FEEDBACK": "Negative feedback", "KEYWORD": "Keyword", "SLA_RISK": "SLA risk",
        "FLAG_PATTERN": "Flag pattern",
    },
}

_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def _number(value: float | int | None) -> str:
    if value is None:
        return "–"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}"


def _signed(value: float | int | None) -> str:
    text = _number(value)
    return f"+{text}" if value is not None and value > 0 else text


def _with_n(figure: dict[str, Any]) -> str:
    return f"{_number(figure['value'])} ({figure['n']})"


def _table(rows: list[list[str]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b8c2cc")),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


def render(report: dict[str, Any], lang: str = "zh-CN", now: datetime | None = None) -> bytes:
    """The report (as GET /reports/weekly answers it) as PDF bytes."""
    t = LABELS[lang]
    font = _font()
    zone = ZoneInfo(report["timezone"])
    heading = ParagraphStyle("heading", fontName=font, fontSize=16, leading=20, spaceAfter=4)
    section = ParagraphStyle("section", fontName=font, fontSize=12, leading=16,
                             spaceBefore=10, spaceAfter=4)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=13)

    def text(value: str, style=body) -> Paragraph:
        return Paragraph(escape(value), style)

    subject = (t["company"] if report["scope"] == "company"
               else t["team"].format(name=report["supervisor_name"]))
    start = report["starts_at"].astimezone(zone).date()
    end = (report["ends_at"].astimezone(zone) - timedelta(days=1)).date()  # the Sunday
    story: list[Any] = [
        text(f"{t['title']} · {subject}", heading),
        text(t["period"].format(week=report["week"], start=start.isoformat(),
                                end=end.isoformat(), tz=report["timezone"])),
        text(t["engineers"].format(n=report["engineers"])),
        text(t["activity"], section),
        _table([[t["item"], t["week"], t["previous_week"], t["change"]]]
               + [[t[a["key"]], _number(a["week"]), _number(a["previous_week"]),
                   _signed(a["change"])] for a in report["activity"]],
               [60 * mm, 35 * mm, 35 * mm, 35 * mm]),
        text(t["kpis"], section),
        _table([[t["item"], f"{t['week']} ({t['records']})",
                 f"{t['previous_week']} ({t['records']})", t["change"],
                 f"{t['month_to_date']} ({t['records']})", t["month_target"]]]
               + [[t[k["key"]], _with_n(k["week"]), _with_n(k["previous_week"]),
                   _signed(k["change"]), _with_n(k["month_to_date"]), _number(k["month_target"])]
                  for k in report["kpis"]],
               [44 * mm, 27 * mm, 27 * mm, 20 * mm, 27 * mm, 25 * mm]),
        text(f"{t['below_target']} · {report['month']}", section),
    ]
    if report["below_target"]:
        story.append(_table(
            [[t["name"], t["total_score"], t["pass_score"], t["points_below"]]]
            + [[b["name"], _number(b["total_score"]), _number(b["pass_score"]),
                _number(b["points_below"])] for b in report["below_target"]],
            [60 * mm, 35 * mm, 35 * mm, 35 * mm]))
    else:
        story.append(text(t["none_below"]))
    story.append(text(t["open_alerts"], section))
    alerts = report["open_alerts"]
    if alerts["total"]:
        story.append(_table(
            [[t["kind"], t["count"]]]
            + [[t.get(kind, kind), str(n)] for kind, n in alerts["by_kind"].items()]
            + [[t["total"], str(alerts["total"])]],
            [60 * mm, 35 * mm]))
    else:
        story.append(text(t["no_alerts"]))
    generated = (now or datetime.now(zone)).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    story += [Spacer(1, 8 * mm), text(t["generated"].format(at=generated))]

    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title=f"{t['title']} {report['week']}",
                      leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                      bottomMargin=15 * mm).build(story)
    return buffer.getvalue()


def filename(report: dict[str, Any]) -> str:
    subject = "company" if report["scope"] == "company" else f"team-{report['supervisor_id']}"
    return f"weekly-report-{report['week']}-{subject}.pdf"
