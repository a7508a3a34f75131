// What the supervisor's screens (Queue, Team, Alerts, Reviews, an engineer's card) share:
// their stylesheet, the team's names, months, dimension names, and the server's field errors.
// Not a screen itself: the router opens only the modules in app.js's SCREENS.
import { t, register, locale } from '../../i18n.js';
import * as api from '../../api.js';

register({
  en: {
    'sup.month': 'Month',
    'sup.all_engineers': 'All engineers',
    'sup.job': 'Job #{id}',
    'sup.waiting': 'Waiting to send',
    'sup.level.junior': 'Junior', 'sup.level.mid': 'Mid-level', 'sup.level.senior': 'Senior',
    'sup.work.field': 'field', 'sup.work.remote': 'remote',
    'sup.dim.response': 'Response', 'sup.dim.efficiency': 'Efficiency', 'sup.dim.satisfaction': 'Satisfaction',
    'sup.dim.knowledge': 'Knowledge', 'sup.dim.compliance': 'Compliance',
  },
  'zh-CN': {
    'sup.month': '月份',
    'sup.all_engineers': '全部工程师',
    'sup.job': '工单 #{id}',
    'sup.waiting': '等待发送',
    'sup.level.junior': '初级', 'sup.level.mid': '中级', 'sup.level.senior': '高级',
    'sup.work.field': '现场', 'sup.work.remote': '远程',
    'sup.dim.response': '响应', 'sup.dim.efficiency': '效率', 'sup.dim.satisfaction': '满意度',
    'sup.dim.knowledge': '知识贡献', 'sup.dim.compliance': '合规',
  },
});

export const DIMENSIONS = ['response', 'efficiency', 'satisfaction', 'knowledge', 'compliance'];
export const METRICS = [
  'first_contact_minutes', 'arrival_minutes', 'dispatch_minutes', 'service_minutes',
  'first_time_fix_rate', 'repeat_repair_rate', 'nps', 'complaints', 'trainings_attended',
  'knowledge_items', 'case_quality', 'checklist_completion_rate', 'safety_incidents',
  'process_violations', 'false_reports',
];

// The supervisor's stylesheet, loaded once when a supervisor screen first opens (kept out of
// the shell that every engineer's phone loads first). Resolves when it applies.
const sheets = new Map();
export function useStyles(name = 'supervisor') {
  if (!sheets.has(name)) {
    sheets.set(name, new Promise((resolve) => {
      const href = `/pwa/${name}.css`;
      const existing = document.querySelector(`link[rel=stylesheet][href="${href}"]`);
      if (existing) { resolve(); return; }
      const link = document.createElement('link');
      link.rel = 'stylesheet';
      link.href = href;
      link.onload = () => resolve();
      link.onerror = () => resolve(); // unstyled beats blank
      document.head.append(link);
    }));
  }
  return sheets.get(name);
}

// The screen's own box in <main>, put there before anything is awaited: when the user moves
// on meanwhile, the router replaces it, and what this screen draws later lands nowhere.
export function mount(ctx) {
  const root = document.createElement('div');
  ctx.main.replaceChildren(root);
  return root;
}

// Engineers the signed-in user may see, by id: {id: {id, name, level, work_type}}.
export async function teamById() {
  const { data } = await api.loadAll('users', { role: 'engineer' });
  return Object.fromEntries(data.map((u) => [u.id, u]));
}

export function levelText(level, workType) {
  return [level && t(`sup.level.${level}`), workType && t(`sup.work.${workType}`)].filter(Boolean).join(' · ');
}

// The month YYYY-MM `back` months before now (local calendar).
export function month(back = 0) {
  const d = new Date();
  d.setDate(1);
  d.setMonth(d.getMonth() - back);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}
export function monthName(period) {
  const [y, m] = period.split('-').map(Number);
  return new Intl.DateTimeFormat(locale(), { year: 'numeric', month: 'long' }).format(new Date(y, m - 1, 1));
}
export function monthOptions(count = 12) {
  return Array.from({ length: count }, (_, i) => month(i));
}

// The server's nested field errors ({action_items: {0: {title: [...]}}}) as dotted names
// (`action_items.0.title`), the names the form's controls carry.
export function flatErrors(errors, prefix = '', out = {}) {
  for (const [key, value] of Object.entries(errors || {})) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (Array.isArray(value) || typeof value === 'string') out[name] = [].concat(value);
    else flatErrors(value, name, out);
  }
  return out;
}

// An SVG element (the diagrams): svg('circle', {cx: 1, class: 'x'}, children...).
const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
