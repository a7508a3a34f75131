// What the supervisor's screens (Queue, Team, Alerts, Reviews, an engineer's card) share:
// the team's names, months, and the server's field errors.
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
  },
  'zh-CN': {
    'sup.month': '月份',
    'sup.all_engineers': '全部工程师',
    'sup.job': '工单 #{id}',
    'sup.waiting': '等待发送',
    'sup.level.junior': '初级', 'sup.level.mid': '中级', 'sup.level.senior': '高级',
    'sup.work.field': '现场', 'sup.work.remote': '远程',
  },
});

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
