// #/dispatch: the team's open jobs, those waiting for an engineer first, and a new job;
// #/dispatch/ID: one job — assign or reassign it from the engineers suggested by the rule
// (nearest first from their last known position or home site, then the fewer open jobs
// today; app/domain/dispatch.py), reschedule it, cancel it. Every change through the outbox.
import { t, register, date, dateTime, distance, problemText } from '../i18n.js';
import * as api from '../api.js';
import * as queue from '../outbox-client.js';
import { word, priorityTone, PRIORITY_ORDER } from '../fieldwork.js';
import { h, clear, button, chip, field, empty, staleNote, withStates, toast, showFieldErrors } from '../ui.js';
import { useStyles, mount, teamById, flatErrors } from './supervisor/shared.js';

register({
  en: {
    'dispatch.title': 'Dispatch',
    'dispatch.new': 'New job', 'dispatch.create': 'Create the job',
    'dispatch.site': 'Site', 'dispatch.category': 'Category', 'dispatch.priority': 'Priority',
    'dispatch.job_title': 'Title', 'dispatch.description': 'Description (optional)',
    'dispatch.scheduled': 'Scheduled for (optional)', 'dispatch.choose': 'Choose…',
    'dispatch.required': 'Fill this in.',
    'dispatch.created': 'Job created: now assign it.',
    'dispatch.action.create': 'Create job “{title}”', 'dispatch.action.assign': 'Assign job #{id} to {name}',
    'dispatch.action.schedule': 'Reschedule job #{id}', 'dispatch.action.cancel': 'Cancel job #{id}',
    'dispatch.queued': 'Saved on this device: waiting to send.',
    'dispatch.open': { one: '{n} open job', other: '{n} open jobs' },
    'dispatch.unassigned': 'Waiting for an engineer', 'dispatch.assigned': 'Assigned',
    'dispatch.none': 'No open jobs.',
    'dispatch.nobody': 'Not assigned', 'dispatch.unscheduled': 'Not scheduled',
    'dispatch.line': '{site} · {when}',
    'dispatch.for': 'For {day}',
    'dispatch.engineer': 'Engineer: {name}',
    'dispatch.assign': 'Assign', 'dispatch.reassign': 'Reassign',
    'dispatch.rule': 'Nearest first (from their last known position, else their home site), then the fewer open jobs today.',
    'dispatch.suggest_none': 'No engineer of yours can take this job.',
    'dispatch.from.last_position': '{distance} away · last position {when}',
    'dispatch.from.home_site': '{distance} away · from their home site',
    'dispatch.from.none': 'Position unknown',
    'dispatch.jobs_today': { one: '{n} open job today', other: '{n} open jobs today' },
    'dispatch.assign_to': 'Assign to {name}', 'dispatch.current': 'Assigned now',
    'dispatch.assigned_to': 'Assigned to {name}.',
    'dispatch.reschedule': 'Reschedule', 'dispatch.new_day': 'New day (empty: not scheduled)',
    'dispatch.rescheduled': 'Rescheduled.',
    'dispatch.cancel': 'Cancel the job', 'dispatch.cancel_reason': 'Why it is cancelled',
    'dispatch.reason_required': 'Write why the job is cancelled.',
    'dispatch.cancelled': 'Job cancelled.',
    'dispatch.closed': 'This job is {status}: nothing more to dispatch.',
    'dispatch.back': '← All open jobs',
  },
  'zh-CN': {
    'dispatch.title': '派单',
    'dispatch.new': '新建工单', 'dispatch.create': '创建工单',
    'dispatch.site': '现场', 'dispatch.category': '类别', 'dispatch.priority': '优先级',
    'dispatch.job_title': '标题', 'dispatch.description': '描述（可选）',
    'dispatch.scheduled': '计划日期（可选）', 'dispatch.choose': '请选择…',
    'dispatch.required': '请填写此项。',
    'dispatch.created': '工单已创建：请派给工程师。',
    'dispatch.action.create': '创建工单“{title}”', 'dispatch.action.assign': '将工单 #{id} 派给 {name}',
    'dispatch.action.schedule': '改期工单 #{id}', 'dispatch.action.cancel': '取消工单 #{id}',
    'dispatch.queued': '已保存在本机：等待发送。',
    'dispatch.open': { other: '{n} 个未完成工单' },
    'dispatch.unassigned': '等待派单', 'dispatch.assigned': '已派单',
    'dispatch.none': '没有未完成的工单。',
    'dispatch.nobody': '未派单', 'dispatch.unscheduled': '未排期',
    'dispatch.line': '{site} · {when}',
    'dispatch.for': '计划 {day}',
    'dispatch.engineer': '工程师：{name}',
    'dispatch.assign': '派单', 'dispatch.reassign': '改派',
    'dispatch.rule': '距离最近的在前（按最后已知位置，否则按常驻现场），距离相同时今日未完成工单少的在前。',
    'dispatch.suggest_none': '您的团队中没有可以接此工单的工程师。',
    'dispatch.from.last_position': '距离 {distance} · 最后位置 {when}',
    'dispatch.from.home_site': '距离 {distance} · 按常驻现场',
    'dispatch.from.none': '位置未知',
    'dispatch.jobs_today': { other: '今日 {n} 个未完成工单' },
    'dispatch.assign_to': '派给 {name}', 'dispatch.current': '当前负责',
    'dispatch.assigned_to': '已派给 {name}。',
    'dispatch.reschedule': '改期', 'dispatch.new_day': '新日期（留空：不排期）',
    'dispatch.rescheduled': '已改期。',
    'dispatch.cancel': '取消工单', 'dispatch.cancel_reason': '取消原因',
    'dispatch.reason_required': '请写明取消工单的原因。',
    'dispatch.cancelled': '工单已取消。',
    'dispatch.closed': '此工单{status}：无需再派单。',
    'dispatch.back': '← 全部未完成工单',
  },
});

export const roles = ['supervisor', 'admin'];
export const title = 'dispatch.title';

const OPEN = ['new', 'assigned', 'in_progress'];

export default async function render(ctx) {
  const root = mount(ctx);
  await useStyles();
  if (ctx.params[0]) return jobPage(ctx, root, Number(ctx.params[0]));
  const formSlot = h('div', {});
  const toggle = button(`+ ${t('dispatch.new')}`, () => {
    if (formSlot.firstChild) { clear(formSlot); toggle.setAttribute('aria-expanded', 'false'); return; }
    toggle.setAttribute('aria-expanded', 'true');
    createForm(ctx, formSlot);
  }, { kind: 'primary', 'aria-expanded': 'false' });
  const body = h('div', {});
  root.append(h('div', { class: 'btn-row sup-toolbar' }, toggle), formSlot, body);
  await withStates(body, async () => {
    const [{ data, stale }, sites, team] = await Promise.all([
      api.loadAll('jobs', { status: OPEN.join(',') }), sitesById(), teamById().catch(() => ({}))]);
    if (!data.length) return [staleNote(stale), empty(t('dispatch.none'))];
    const byOrder = (a, b) => (PRIORITY_ORDER[a.priority] - PRIORITY_ORDER[b.priority])
      || String(a.scheduled_for || '9').localeCompare(String(b.scheduled_for || '9')) || a.id - b.id;
    const waiting = data.filter((j) => !j.engineer_id).sort(byOrder);
    const assigned = data.filter((j) => j.engineer_id).sort(byOrder);
    const section = (key, jobs) => (jobs.length ? h('section', { class: 'dispatch-section' },
      h('h2', { class: 'section-title' }, `${t(key)} (${jobs.length})`),
      h('ul', { class: 'list dispatch-list' }, jobs.map((j) => jobRow(j, sites, team)))) : null);
    return [staleNote(stale), h('p', { class: 'meta', role: 'status' }, t('dispatch.open', { n: data.length })),
      h('div', { class: 'dispatch-columns' }, section('dispatch.unassigned', waiting), section('dispatch.assigned', assigned))];
  });
}

async function sitesById() {
  const { data } = await api.loadAll('sites');
  return Object.fromEntries(data.map((s) => [s.id, s]));
}

function jobRow(job, sites, team) {
  const site = sites[job.site_id];
  const person = team[job.engineer_id];
  return h('li', { class: 'list-row dispatch-row' },
    h('a', { class: 'grow dispatch-link', href: `#/dispatch/${job.id}` },
      h('strong', {}, job.title),
      h('span', { class: 'meta' }, t('dispatch.line', {
        site: site ? site.name : `#${job.site_id}`,
        when: job.scheduled_for ? t('dispatch.for', { day: date(job.scheduled_for) }) : t('dispatch.unscheduled'),
      })),
      h('span', { class: 'meta' }, job.engineer_id ? t('dispatch.engineer', { name: person ? person.name : `#${job.engineer_id}` }) : t('dispatch.nobody'))),
    chip(word('priority', job.priority), priorityTone(job.priority)));
}

// Sends an action through the outbox; answers the server's body, or null when kept offline.
async function send(action, form, errorLine) {
  errorLine.hidden = true;
  showFieldErrors(form, {});
  try {
    const r = await queue.submit(action);
    if (r.status === 'sent') return r.body;
    toast(t('dispatch.queued'), 'warn');
    return null;
  } catch (e) {
    errorLine.textContent = problemText(e);
    errorLine.hidden = false;
    if (e.errors) showFieldErrors(form, flatErrors(e.errors));
    throw e;
  }
}

async function createForm(ctx, slot) {
  clear(slot, h('p', { class: 'meta' }, t('common.loading')));
  const [sites, categories] = await Promise.all([sitesById(), api.loadAll('categories').then((r) => r.data)]);
  const choose = () => h('option', { value: '' }, t('dispatch.choose'));
  const site = h('select', { class: 'select', name: 'site_id' }, choose(),
    Object.values(sites).sort((a, b) => a.name.localeCompare(b.name)).map((s) => h('option', { value: s.id }, `${s.name} · ${s.customer_name}`)));
  const category = h('select', { class: 'select', name: 'category' }, choose(),
    categories.map((c) => h('option', { value: c.key }, word('category', c.key) === c.key ? c.name || c.key : word('category', c.key))));
  const priority = h('select', { class: 'select', name: 'priority' },
    ['urgent', 'high', 'normal', 'low'].map((p) => h('option', { value: p, selected: p === 'normal' }, word('priority', p))));
  const titleInput = h('input', { class: 'input', name: 'title', maxlength: 200 });
  const description = h('textarea', { class: 'textarea', name: 'description', maxlength: 5000, rows: 3 });
  const scheduled = h('input', { class: 'input', type: 'date', name: 'scheduled_for' });
  const errorLine = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, t('dispatch.create'));
  const form = h('form', { class: 'form card dispatch-form', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    const missing = {};
    for (const c of [site, category, titleInput]) if (!c.value.trim()) missing[c.name] = [t('dispatch.required')];
    showFieldErrors(form, missing);
    if (Object.keys(missing).length) return;
    const json = { site_id: Number(site.value), category: category.value, priority: priority.value, title: titleInput.value.trim() };
    if (description.value.trim()) json.description = description.value.trim();
    if (scheduled.value) json.scheduled_for = scheduled.value;
    submit.disabled = true;
    try {
      const body = await send({ kind: 'create-job', method: 'POST', path: 'jobs', json,
        label: t('dispatch.action.create', { title: json.title }) }, form, errorLine);
      if (body) { toast(t('dispatch.created'), 'ok'); ctx.navigate(`#/dispatch/${body.id}`); } else clear(slot);
    } catch (e) { /* shown on the form */ }
    submit.disabled = false;
  } },
  h('h2', { class: 'section-title' }, t('dispatch.new')),
  field(t('dispatch.site'), site), field(t('dispatch.job_title'), titleInput),
  h('div', { class: 'dispatch-grid' }, field(t('dispatch.category'), category),
    field(t('dispatch.priority'), priority), field(t('dispatch.scheduled'), scheduled)),
  field(t('dispatch.description'), description),
  errorLine, h('div', { class: 'btn-row' }, submit));
  clear(slot, form);
  site.focus();
}

async function jobPage(ctx, root, id) {
  await withStates(root, async () => {
    const [{ data: job, stale }, sites, team] = await Promise.all([
      api.load(`jobs/${id}`), sitesById(), teamById().catch(() => ({}))]);
    const site = sites[job.site_id];
    const person = team[job.engineer_id];
    const head = h('article', { class: 'card dispatch-job' },
      h('div', { class: 'card-row' }, h('h2', { class: 'card-title grow' }, job.title),
        chip(word('priority', job.priority), priorityTone(job.priority)), chip(word('status', job.status))),
      h('p', {}, site ? `${site.name} · ${site.address}` : `#${job.site_id}`),
      h('p', { class: 'meta' }, `${t('sup.job', { id: job.id })} · ${word('category', job.category)} · ${
        job.scheduled_for ? t('dispatch.for', { day: date(job.scheduled_for) }) : t('dispatch.unscheduled')}`),
      h('p', { class: 'meta' }, job.engineer_id ? t('dispatch.engineer', { name: person ? person.name : `#${job.engineer_id}` }) : t('dispatch.nobody')),
      job.description ? h('p', { class: 'dispatch-description' }, job.description) : null);
    const back = h('p', {}, h('a', { href: '#/dispatch' }, t('dispatch.back')));
    if (!OPEN.includes(job.status)) {
      return [staleNote(stale), back, head, h('p', { class: 'meta' }, t('dispatch.closed', { status: word('status', job.status) }))];
    }
    return [staleNote(stale), back, head, h('div', { class: 'dispatch-columns' },
      await suggestions(ctx, job), h('div', {}, rescheduleForm(ctx, job), cancelForm(ctx, job)))];
  });
}

async function suggestions(ctx, job) {
  const errorLine = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const section = h('section', { class: 'card dispatch-suggest' },
    h('h2', { class: 'section-title' }, t(job.engineer_id ? 'dispatch.reassign' : 'dispatch.assign')),
    h('p', { class: 'meta' }, t('dispatch.rule')), errorLine);
  const { data } = await api.load(`jobs/${job.id}/assignment-suggestions`);
  if (!data.items.length) { section.append(empty(t('dispatch.suggest_none'))); return section; }
  const form = h('form', { onsubmit: (ev) => ev.preventDefault() });
  section.append(h('ol', { class: 'list dispatch-suggestions' }, data.items.map((s) => {
    const where = s.from === 'last_position' ? t('dispatch.from.last_position', { distance: distance(s.distance_m), when: dateTime(s.position_at) })
      : s.from === 'home_site' ? t('dispatch.from.home_site', { distance: distance(s.distance_m) }) : t('dispatch.from.none');
    const current = s.engineer_id === job.engineer_id;
    const assign = current ? chip(t('dispatch.current'), 'ok') : button(t('dispatch.assign'), async () => {
      assign.disabled = true;
      try {
        const body = await send({ kind: 'assign-job', method: 'POST', path: `jobs/${job.id}/assign`, json: { engineer_id: s.engineer_id },
          label: t('dispatch.action.assign', { id: job.id, name: s.name }), job_id: job.id }, form, errorLine);
        if (body) { toast(t('dispatch.assigned_to', { name: s.name }), 'ok'); ctx.rerender(); }
      } catch (e) { assign.disabled = false; }
    }, { kind: 'primary', 'aria-label': t('dispatch.assign_to', { name: s.name }) });
    return h('li', { class: 'list-row dispatch-suggestion' },
      h('div', { class: 'grow' }, h('strong', {}, s.name),
        h('div', { class: 'meta' }, where), h('div', { class: 'meta' }, t('dispatch.jobs_today', { n: s.open_jobs_today }))),
      assign);
  })), form);
  return section;
}

function rescheduleForm(ctx, job) {
  const day = h('input', { class: 'input', type: 'date', name: 'scheduled_for', value: job.scheduled_for || '' });
  const errorLine = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'form card', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const body = await send({ kind: 'schedule-job', method: 'PATCH', path: `jobs/${job.id}`, json: { scheduled_for: day.value || null },
        label: t('dispatch.action.schedule', { id: job.id }), job_id: job.id }, form, errorLine);
      if (body) { toast(t('dispatch.rescheduled'), 'ok'); ctx.rerender(); }
    } catch (e) { /* shown on the form */ }
  } },
  h('h2', { class: 'section-title' }, t('dispatch.reschedule')), field(t('dispatch.new_day'), day), errorLine,
  h('div', { class: 'btn-row' }, h('button', { type: 'submit', class: 'btn' }, t('dispatch.reschedule'))));
  return form;
}

function cancelForm(ctx, job) {
  const reason = h('textarea', { class: 'textarea', name: 'reason', maxlength: 2000, rows: 2 });
  const errorLine = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'form card', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    if (!reason.value.trim()) { showFieldErrors(form, { reason: [t('dispatch.reason_required')] }); return; }
    try {
      const body = await send({ kind: 'cancel-job', method: 'POST', path: `jobs/${job.id}/cancel`, json: { reason: reason.value.trim() },
        label: t('dispatch.action.cancel', { id: job.id }), job_id: job.id }, form, errorLine);
      if (body) { toast(t('dispatch.cancelled'), 'ok'); ctx.rerender(); }
    } catch (e) { /* shown on the form */ }
  } },
  h('h2', { class: 'section-title' }, t('dispatch.cancel')), field(t('dispatch.cancel_reason'), reason), errorLine,
  h('div', { class: 'btn-row' }, h('button', { type: 'submit', class: 'btn btn-danger' }, t('dispatch.cancel'))));
  return form;
}
