// #/today: the engineer's open jobs for today (scheduled today or earlier, or not at all),
// nearest first when the position is known; the open visit pinned on top with its timer.
import { t, register, distance, date, duration } from '../i18n.js';
import * as api from '../api.js';
import * as queue from '../outbox-client.js';
import { h, clear, chip, empty, staleNote, withStates } from '../ui.js';
import { PRIORITY_ORDER, priorityTone, word, metresBetween, roughPosition, sitesFor, openVisits, todayIso } from '../fieldwork.js';

register({
  en: {
    'today.title': 'Today', 'today.none': 'No open jobs for today.', 'today.jobs': { one: '{n} job', other: '{n} jobs' },
    'today.current': 'Current visit', 'today.since': 'Checked in {time} ago', 'today.away': '{distance} away',
    'today.scheduled': 'Planned {date}', 'today.unscheduled': 'Not scheduled', 'today.overdue': 'Overdue since {date}',
    'today.waiting': 'Waiting to send', 'today.open_job': 'Open job',
    'today.by_distance': 'Nearest first', 'today.by_priority': 'By priority (position unknown)',
    'today.my_visits': 'My visits', 'today.rejected': { one: '{n} visit rejected: open it to dispute', other: '{n} visits rejected: open them to dispute' },
  },
  'zh-CN': {
    'today.title': '今日', 'today.none': '今天没有待处理的工单。', 'today.jobs': { other: '{n} 个工单' },
    'today.current': '当前上门', 'today.since': '已签到 {time}', 'today.away': '距离 {distance}',
    'today.scheduled': '计划 {date}', 'today.unscheduled': '未排期', 'today.overdue': '自 {date} 起逾期',
    'today.waiting': '等待发送', 'today.open_job': '打开工单',
    'today.by_distance': '由近到远', 'today.by_priority': '按优先级（位置未知）',
    'today.my_visits': '我的上门记录', 'today.rejected': { other: '{n} 次上门被驳回：打开可申诉' },
  },
});

export const roles = ['engineer'];
export const title = 'today.title';

export default async function render(ctx) {
  const body = h('div', {});
  clear(ctx.main, body);
  let timers = [];
  ctx.onCleanup(() => timers.forEach(clearInterval));
  const draw = () => withStates(body, async () => {
    timers.forEach(clearInterval);
    timers = [];
    const today = todayIso();
    const [jobsResult, visitsResult, here] = await Promise.all([
      api.loadAll('jobs', { engineer_id: ctx.user.id, status: 'new,assigned,in_progress' }),
      api.load('visits', { engineer_id: ctx.user.id, per_page: 20 }),
      roughPosition(),
    ]);
    const jobs = jobsResult.data.filter((j) => !j.scheduled_for || j.scheduled_for <= today);
    const sites = await sitesFor(jobs.map((j) => j.site_id));
    const open = await openVisits(visitsResult.data.items);
    for (const j of jobs) {
      const s = sites[j.site_id];
      j.distance = here && s ? metresBetween(here, s) : null;
    }
    jobs.sort((a, b) => (here ? (a.distance ?? 1e12) - (b.distance ?? 1e12) : 0)
      || PRIORITY_ORDER[a.priority] - PRIORITY_ORDER[b.priority]
      || String(a.scheduled_for || '9').localeCompare(String(b.scheduled_for || '9'))
      || a.reported_at.localeCompare(b.reported_at));
    const waitingJobs = new Set(queue.pending().map((e) => e.job_id));

    const pinned = open.map((v) => {
      const job = jobs.find((j) => j.id === v.job_id) || jobsResult.data.find((j) => j.id === v.job_id);
      const timer = h('span', { class: 'timer' });
      const tick = () => { timer.textContent = duration((Date.now() - Date.parse(v.since)) / 1000); };
      tick();
      timers.push(setInterval(tick, 1000));
      return h('a', { class: 'card card-pinned', href: `#/job/${v.job_id}`, 'aria-label': `${t('today.current')}: ${job ? job.title : '#' + v.job_id}` },
        h('div', { class: 'card-row' }, h('strong', { class: 'grow' }, t('today.current')), timer),
        h('div', { class: 'card-title' }, job ? job.title : `#${v.job_id}`),
        job && sites[job.site_id] ? h('div', { class: 'meta' }, sites[job.site_id].name) : null,
        v.pending ? chip(t('today.waiting'), 'warn') : null);
    });

    const cards = jobs.map((j) => {
      const s = sites[j.site_id];
      const when = !j.scheduled_for ? t('today.unscheduled')
        : j.scheduled_for < today ? t('today.overdue', { date: date(`${j.scheduled_for}T12:00:00`) })
          : t('today.scheduled', { date: date(`${j.scheduled_for}T12:00:00`) });
      return h('li', {}, h('a', { class: 'card', href: `#/job/${j.id}` },
        h('div', { class: 'card-row' },
          h('span', { class: 'card-title grow' }, j.title),
          j.distance !== null ? h('strong', {}, t('today.away', { distance: distance(j.distance) })) : null),
        s ? h('div', {}, s.customer_name, ' · ', s.name) : null,
        s ? h('div', { class: 'meta' }, s.address) : null,
        h('div', { class: 'chips' },
          chip(word('priority', j.priority), priorityTone(j.priority)),
          chip(word('status', j.status), j.status === 'in_progress' ? 'info' : ''),
          chip(when, j.scheduled_for && j.scheduled_for < today ? 'warn' : ''),
          waitingJobs.has(j.id) ? chip(t('today.waiting'), 'warn') : null)));
    });
    const rejected = visitsResult.data.items.filter((v) => v.status === 'rejected' && !v.disputed_at).length;
    return [
      staleNote(jobsResult.stale || visitsResult.stale),
      pinned,
      rejected ? h('a', { class: 'card card-warn', href: '#/visits/rejected' }, h('strong', {}, t('today.rejected', { n: rejected }))) : null,
      h('h2', { class: 'section-title' }, t('today.jobs', { n: jobs.length }), ' · ', here ? t('today.by_distance') : t('today.by_priority')),
      jobs.length ? h('ul', { class: 'list wide-grid' }, cards) : empty(t('today.none')),
      h('a', { class: 'btn btn-block', href: '#/visits' }, t('today.my_visits')),
    ];
  });
  await draw();
  // Redraw when an action is sent or refused (the pinned visit and the "waiting" marks change),
  // once the outbox has been still for a moment: a replay of many actions redraws (and
  // reloads the lists) once at its end, not once per action.
  let last = queue.current().waiting + queue.current().refused;
  let redraw = null;
  ctx.onCleanup(() => clearTimeout(redraw));
  ctx.onCleanup(queue.subscribe((s) => {
    const now = s.waiting + s.refused;
    if (now === last || !ctx.isCurrent()) return;
    last = now;
    clearTimeout(redraw);
    redraw = setTimeout(() => { if (ctx.isCurrent()) draw(); }, 500);
  }));
}
