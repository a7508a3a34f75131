// #/report[/YYYY-Www]: the weekly report of the supervisor's team (an admin: the company),
// the same figures as GET /reports/weekly and its PDF, with small charts drawn here.
import { t, register, num, locale } from '../i18n.js';
import * as api from '../api.js';
import { h, svg, chip, field, empty, staleNote, withStates, useStyles } from '../ui.js';

register({
  en: {
    'report.title': 'Weekly report',
    'report.week': 'Week',
    'report.company': 'Company', 'report.team': 'Team of {name}',
    'report.span': '{start} to {end}',
    'report.engineers': { one: '{n} engineer', other: '{n} engineers' },
    'report.pdf': 'Download PDF',
    'report.activity': 'Activity', 'report.kpis': 'KPIs against last week and the month\'s target',
    'report.this_week': 'This week', 'report.last_week': 'Last week', 'report.target': 'Month target',
    'report.month_to_date': 'Month to date {v}', 'report.records': { one: '{n} record', other: '{n} records' },
    'report.no_figure': 'No records',
    'report.below': 'Furthest below target ({month}, live)', 'report.none_below': 'No engineer is below target.',
    'report.points_below': '{n} points below the pass mark {pass}',
    'report.alerts': 'Open alerts', 'report.no_alerts': 'No open alerts.',
    'report.act.jobs_reported': 'Jobs reported', 'report.act.jobs_closed': 'Jobs closed',
    'report.act.visits': 'Visits', 'report.act.flagged_visits': 'Flagged visits',
    'report.act.approved': 'Approved', 'report.act.rejected': 'Rejected',
    'report.kpi.first_time_fix_rate': 'First-time fix (%)', 'report.kpi.first_contact_minutes': 'First contact (min)',
    'report.kpi.dispatch_minutes': 'Dispatch (min)', 'report.kpi.arrival_minutes': 'Arrival (min)',
    'report.kpi.nps': 'NPS', 'report.kpi.complaints': 'Complaints',
    'report.alert.NEGATIVE_FEEDBACK': 'Negative feedback', 'report.alert.KEYWORD': 'Keyword',
    'report.alert.SLA_RISK': 'SLA risk', 'report.alert.FLAG_PATTERN': 'Flag pattern',
  },
  'zh-CN': {
    'report.title': '周报',
    'report.week': '周',
    'report.company': '全公司', 'report.team': '{name} 的团队',
    'report.span': '{start} 至 {end}',
    'report.engineers': { other: '工程师 {n} 人' },
    'report.pdf': '下载 PDF',
    'report.activity': '工作量', 'report.kpis': '关键指标：对比上周与本月目标',
    'report.this_week': '本周', 'report.last_week': '上周', 'report.target': '本月目标',
    'report.month_to_date': '本月累计 {v}', 'report.records': { other: '{n} 条记录' },
    'report.no_figure': '暂无记录',
    'report.below': '低于目标最多的工程师（{month}，实时）', 'report.none_below': '无人低于目标。',
    'report.points_below': '低于及格分 {pass} 共 {n} 分',
    'report.alerts': '未处理预警', 'report.no_alerts': '没有未处理的预警。',
    'report.act.jobs_reported': '新报工单', 'report.act.jobs_closed': '关闭工单',
    'report.act.visits': '上门次数', 'report.act.flagged_visits': '被标记的上门',
    'report.act.approved': '审核通过', 'report.act.rejected': '审核驳回',
    'report.kpi.first_time_fix_rate': '首次修复率 (%)', 'report.kpi.first_contact_minutes': '首次联系时长（分钟）',
    'report.kpi.dispatch_minutes': '派工时长（分钟）', 'report.kpi.arrival_minutes': '到场时长（分钟）',
    'report.kpi.nps': '净推荐值 NPS', 'report.kpi.complaints': '投诉',
    'report.alert.NEGATIVE_FEEDBACK': '差评', 'report.alert.KEYWORD': '关键词',
    'report.alert.SLA_RISK': 'SLA 风险', 'report.alert.FLAG_PATTERN': '异常标记模式',
  },
});

export const roles = ['supervisor', 'admin'];
export const title = 'report.title';

const WEEK = /^20\d{2}-W(0[1-9]|[1-4]\d|5[0-3])$/;

// The ISO week `YYYY-Www` of a date: its Thursday decides the year.
export function isoWeek(day) {
  const d = new Date(Date.UTC(day.getFullYear(), day.getMonth(), day.getDate()));
  d.setUTCDate(d.getUTCDate() + 3 - ((d.getUTCDay() + 6) % 7));
  const week = Math.ceil(((d - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86400000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

// The last `count` whole weeks, newest first.
function weekOptions(count) {
  const out = [];
  const day = new Date();
  day.setDate(day.getDate() - 7);
  for (let i = 0; i < count; i++) {
    out.push(isoWeek(day));
    day.setDate(day.getDate() - 7);
  }
  return out;
}

const fmt = (v) => (v === null || v === undefined ? '—' : num(v, { maximumFractionDigits: 2 }));
const signed = (v) => (v === null || v === undefined ? '' : `${v > 0 ? '+' : ''}${fmt(v)}`);

// Two bars (this week, last week) on one scale with the month's target as a line.
function chart(kpi) {
  const values = [kpi.week.value, kpi.previous_week.value, kpi.month_target].filter((v) => v !== null && v !== undefined);
  const low = Math.min(0, ...values);
  const high = Math.max(1, ...values);
  const x = (v) => 4 + ((v - low) / (high - low)) * 192;
  const chartEl = svg('svg', { viewBox: '0 0 200 40', class: 'report-chart', role: 'img',
    'aria-label': `${t('report.this_week')} ${fmt(kpi.week.value)}, ${t('report.last_week')} ${fmt(kpi.previous_week.value)}, ${t('report.target')} ${fmt(kpi.month_target)}` });
  [[kpi.week.value, 4, 'currentColor', 1], [kpi.previous_week.value, 22, 'currentColor', 0.35]].forEach(([v, y, fill, opacity]) => {
    if (v === null || v === undefined) return;
    const a = x(Math.min(0, v)); const b = x(Math.max(0, v));
    chartEl.append(svg('rect', { x: a, y, width: Math.max(1, b - a), height: 14, fill, 'fill-opacity': opacity, rx: 2 }));
  });
  if (kpi.month_target !== null && kpi.month_target !== undefined) {
    chartEl.append(svg('line', { x1: x(kpi.month_target), x2: x(kpi.month_target), y1: 0, y2: 40,
      stroke: '#c0392b', 'stroke-width': 2, 'stroke-dasharray': '3 2' }));
  }
  return chartEl;
}

function kpiCard(kpi) {
  const better = kpi.change === null ? '' : (kpi.change === 0 ? '' : ((kpi.change > 0) === (kpi.better === 'higher') ? 'ok' : 'warn'));
  return h('li', { class: 'card report-kpi' },
    h('strong', {}, t(`report.kpi.${kpi.key}`)),
    h('div', { class: 'report-figures' },
      h('span', { class: 'big' }, kpi.week.n || kpi.unit === 'count' ? fmt(kpi.week.value) : t('report.no_figure')),
      kpi.change ? chip(signed(kpi.change), better) : null,
      h('span', { class: 'meta' }, `${t('report.last_week')} ${fmt(kpi.previous_week.value)} · ${t('report.target')} ${fmt(kpi.month_target)}`)),
    chart(kpi),
    h('span', { class: 'meta' }, `${t('report.records', { n: kpi.week.n })} · ${t('report.month_to_date', { v: fmt(kpi.month_to_date.value) })}`));
}

export default async function render(ctx) {
  const weeks = weekOptions(12);
  const week = WEEK.test(ctx.params[0] || '') ? ctx.params[0] : weeks[0];
  if (!weeks.includes(week)) weeks.unshift(week);
  const picker = h('select', { class: 'select', name: 'week', onchange: () => ctx.navigate(`#/report/${picker.value}`) },
    weeks.map((w) => h('option', { value: w, selected: w === week }, w)));
  const pdf = h('a', { class: 'btn', href: `/api/v1/reports/weekly.pdf?week=${week}&lang=${locale()}`, download: '' }, t('report.pdf'));
  const body = h('div', {});
  ctx.main.replaceChildren(h('div', { class: 'sup-toolbar' }, field(t('report.week'), picker), pdf), body);
  await useStyles();
  await withStates(body, async () => {
    const { data, stale } = await api.load('reports/weekly', { week });
    const end = new Date(new Date(data.ends_at).getTime() - 86400000);
    const day = (d) => d.toLocaleDateString(locale(), { timeZone: data.timezone, dateStyle: 'medium' });
    const alerts = Object.entries(data.open_alerts.by_kind);
    return [
      staleNote(stale),
      h('p', { class: 'meta' }, `${data.scope === 'company' ? t('report.company') : t('report.team', { name: data.supervisor_name })} · ${t('report.span', { start: day(new Date(data.starts_at)), end: day(end) })} · ${t('report.engineers', { n: data.engineers })}`),
      h('h2', {}, t('report.activity')),
      h('ul', { class: 'report-grid' }, data.activity.map((a) => h('li', { class: 'card report-activity' },
        h('span', { class: 'meta' }, t(`report.act.${a.key}`)),
        h('span', { class: 'big' }, fmt(a.week)),
        h('span', { class: 'meta' }, `${t('report.last_week')} ${fmt(a.previous_week)} ${a.change ? `(${signed(a.change)})` : ''}`)))),
      h('h2', {}, t('report.kpis')),
      h('ul', { class: 'report-grid' }, data.kpis.map(kpiCard)),
      h('h2', {}, t('report.below', { month: data.month })),
      data.below_target.length
        ? h('ol', { class: 'report-list' }, data.below_target.map((b) => h('li', { class: 'card' },
          h('a', { href: `#/engineer/${b.engineer_id}/${data.month}` }, b.name), ' ',
          h('span', { class: 'meta' }, t('report.points_below', { n: fmt(b.points_below), pass: fmt(b.pass_score) })))))
        : empty(t('report.none_below')),
      h('h2', {}, t('report.alerts')),
      alerts.length
        ? h('p', { class: 'chips' }, alerts.map(([kind, n]) => chip(`${t(`report.alert.${kind}`)} ${n}`, 'warn')))
        : empty(t('report.no_alerts')),
    ];
  });
}
