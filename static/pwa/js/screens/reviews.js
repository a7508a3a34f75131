// #/reviews: the monthly reviews held with the team, their action items and whether each is
// done (tick to change it); #/reviews/new[/ENGINEER] holds a new one: summary, strengths,
// improvements, action items with due dates, next month's targets. Both changes go through
// the offline outbox.
import { t, register, num, date, problemText } from '../i18n.js';
import * as api from '../api.js';
import * as queue from '../outbox-client.js';
import { h, clear, button, link, chip, field, empty, staleNote, withStates, toast, showFieldErrors } from '../ui.js';
import './kpis.js'; // the metric names (metric.*) the targets are chosen by
import { useStyles, mount, teamById, monthName, monthOptions, METRICS, flatErrors } from './supervisor/shared.js';

register({
  en: {
    'reviews.title': 'Reviews', 'reviews.new_title': 'New review',
    'reviews.new': 'New review',
    'reviews.none': 'No reviews yet. Hold one each month: results, a one-to-one talk, an action plan and next month’s targets.',
    'reviews.filter': 'Engineer',
    'reviews.of': '{engineer} · {month}',
    'reviews.held': 'Held {when}',
    'reviews.ack': 'Acknowledged {when}', 'reviews.not_ack': 'Not yet acknowledged',
    'reviews.strengths': 'Strengths', 'reviews.improvements': 'To improve',
    'reviews.items': 'Action items', 'reviews.no_items': 'No action items.',
    'reviews.due': 'due {when}', 'reviews.overdue': 'Overdue',
    'reviews.items_done': '{done} of {total} done',
    'reviews.targets': 'Next month’s targets',
    'reviews.item_action': 'Action item: {title}',
    // The form
    'reviews.engineer': 'Engineer', 'reviews.choose': 'Choose…', 'reviews.period': 'Month reviewed',
    'reviews.summary': 'Summary of the month', 'reviews.strengths_label': 'Strengths (optional)',
    'reviews.improvements_label': 'To improve (optional)',
    'reviews.item_title': 'Action {n}', 'reviews.item_due': 'Due date for action {n}',
    'reviews.item_remove': 'Remove action {n}', 'reviews.item_add': 'Add an action item',
    'reviews.target_metric': 'Target {n}: metric', 'reviews.target_value': 'Target {n}: value',
    'reviews.target_remove': 'Remove target {n}', 'reviews.target_add': 'Add a target',
    'reviews.targets_hint': 'Optional: next month’s target for any KPI metric.',
    'reviews.save': 'Save the review',
    'reviews.saved': 'Review saved.', 'reviews.queued': 'Review saved on this device: waiting to send.',
    'reviews.need_engineer': 'Choose the engineer.', 'reviews.need_summary': 'Write a summary.',
    'reviews.need_due': 'Give a due date.', 'reviews.need_title': 'Say what is to be done.',
    'reviews.need_value': 'Give a number.', 'reviews.need_metric': 'Choose a metric.',
    'reviews.action': 'Review of {engineer} ({month})',
    'reviews.no_team': 'No engineer in your team to review.',
  },
  'zh-CN': {
    'reviews.title': '绩效面谈', 'reviews.new_title': '新建面谈',
    'reviews.new': '新建面谈',
    'reviews.none': '还没有面谈记录。每月进行一次：回顾结果、一对一沟通、制定行动计划和下月目标。',
    'reviews.filter': '工程师',
    'reviews.of': '{engineer} · {month}',
    'reviews.held': '面谈于 {when}',
    'reviews.ack': '已于 {when} 确认', 'reviews.not_ack': '工程师尚未确认',
    'reviews.strengths': '优点', 'reviews.improvements': '待改进',
    'reviews.items': '行动项', 'reviews.no_items': '没有行动项。',
    'reviews.due': '截止 {when}', 'reviews.overdue': '已逾期',
    'reviews.items_done': '已完成 {done} / {total}',
    'reviews.targets': '下月目标',
    'reviews.item_action': '行动项：{title}',
    'reviews.engineer': '工程师', 'reviews.choose': '请选择…', 'reviews.period': '面谈月份',
    'reviews.summary': '本月总结', 'reviews.strengths_label': '优点（可选）',
    'reviews.improvements_label': '待改进（可选）',
    'reviews.item_title': '行动项 {n}', 'reviews.item_due': '行动项 {n} 截止日期',
    'reviews.item_remove': '删除行动项 {n}', 'reviews.item_add': '添加行动项',
    'reviews.target_metric': '目标 {n}：指标', 'reviews.target_value': '目标 {n}：数值',
    'reviews.target_remove': '删除目标 {n}', 'reviews.target_add': '添加目标',
    'reviews.targets_hint': '可选：为任意绩效指标设定下月目标。',
    'reviews.save': '保存面谈',
    'reviews.saved': '面谈已保存。', 'reviews.queued': '面谈已保存在本机：等待发送。',
    'reviews.need_engineer': '请选择工程师。', 'reviews.need_summary': '请填写总结。',
    'reviews.need_due': '请填写截止日期。', 'reviews.need_title': '请写明要做什么。',
    'reviews.need_value': '请填写数值。', 'reviews.need_metric': '请选择指标。',
    'reviews.action': '{engineer} 的面谈（{month}）',
    'reviews.no_team': '您的团队中没有可面谈的工程师。',
  },
});

export const roles = ['supervisor', 'admin'];
export const title = (ctx) => (ctx.params[0] === 'new' ? 'reviews.new_title' : 'reviews.title');

export default async function render(ctx) {
  const root = mount(ctx);
  await useStyles();
  if (ctx.params[0] === 'new') return renderForm(ctx, root, Number(ctx.params[1]) || null);
  return renderList(ctx, root, Number(ctx.params[0]) || null);
}

// ---- The list ----

async function renderList(ctx, root, engineerId) {
  await withStates(root, async () => {
    const [{ data, stale }, team] = await Promise.all([
      api.loadAll('reviews', engineerId ? { engineer_id: engineerId } : {}),
      teamById().catch(() => ({})),
    ]);
    const picker = h('select', { class: 'select', name: 'engineer', onchange: () => ctx.navigate(picker.value ? `#/reviews/${picker.value}` : '#/reviews') },
      h('option', { value: '' }, t('sup.all_engineers')),
      Object.values(team).sort((a, b) => a.name.localeCompare(b.name)).map((u) => h('option', { value: u.id, selected: u.id === engineerId }, u.name)));
    const toolbar = h('div', { class: 'sup-toolbar card-row' },
      h('div', { class: 'grow' }, field(t('reviews.filter'), picker)),
      link(t('reviews.new'), engineerId ? `#/reviews/new/${engineerId}` : '#/reviews/new', { kind: 'primary' }));
    if (!data.length) return [toolbar, staleNote(stale), empty(t('reviews.none'))];
    const waiting = queue.pending((e) => e.kind === 'review-item' && e.state !== 'refused');
    return [toolbar, staleNote(stale), h('div', { class: 'review-grid' }, data.map((r) => reviewCard(r, team, waiting)))];
  });
}

function reviewCard(review, team, waiting) {
  const person = team[review.engineer_id];
  const engineer = person ? person.name : `#${review.engineer_id}`;
  const items = review.action_items || [];
  const doneCount = () => items.filter((i) => i.done).length;
  const progress = h('span', { class: 'meta' });
  const showProgress = () => { progress.textContent = items.length ? t('reviews.items_done', { done: doneCount(), total: items.length }) : ''; };
  showProgress();
  const targets = Object.entries(review.next_targets || {});
  const headingId = `review-${review.id}`;
  return h('article', { class: 'card review-card', 'aria-labelledby': headingId },
    h('h2', { class: 'card-title', id: headingId }, t('reviews.of', { engineer, month: monthName(review.period) })),
    h('div', { class: 'card-row' },
      h('span', { class: 'meta grow' }, t('reviews.held', { when: date(review.created_at) })),
      review.acknowledged_at ? chip(t('reviews.ack', { when: date(review.acknowledged_at) }), 'ok') : chip(t('reviews.not_ack'), 'warn')),
    h('p', { class: 'review-summary' }, review.summary),
    review.strengths || review.improvements ? h('dl', { class: 'kv' },
      review.strengths ? [h('dt', {}, t('reviews.strengths')), h('dd', {}, review.strengths)] : null,
      review.improvements ? [h('dt', {}, t('reviews.improvements')), h('dd', {}, review.improvements)] : null) : null,
    h('h3', { class: 'section-title' }, t('reviews.items'), ' ', progress),
    items.length
      ? h('ul', { class: 'list' }, items.map((item) => itemRow(review, item, waiting, showProgress)))
      : h('p', { class: 'meta' }, t('reviews.no_items')),
    targets.length ? [
      h('h3', { class: 'section-title' }, t('reviews.targets')),
      h('ul', { class: 'chips' }, targets.map(([key, value]) => h('li', {}, chip(`${t(`metric.${key}`)}: ${num(value)}`, 'info')))),
    ] : null);
}

function itemRow(review, item, waiting, onChange) {
  const now = new Date();
  const today = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
  const box = h('input', { type: 'checkbox', checked: item.done, onchange: () => toggle() });
  const state = h('span', { class: 'review-item-state' });
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const overdue = h('span', {});
  const titleText = h('span', { class: item.done ? 'review-done' : '' }, item.title);
  const showOverdue = () => clear(overdue, !item.done && item.due_date < today ? chip(t('reviews.overdue'), 'bad') : null);
  showOverdue();
  const pendingHere = waiting.filter((e) => e.item_id === item.id);
  if (pendingHere.length) clear(state, chip(t('sup.waiting'), 'warn'));

  async function toggle() {
    const done = box.checked;
    box.disabled = true;
    error.hidden = true;
    try {
      const r = await queue.submit({
        kind: 'review-item', method: 'PATCH', path: `reviews/${review.id}/action-items/${item.id}`, json: { done },
        label: t('reviews.item_action', { title: item.title }), review_id: review.id, item_id: item.id,
      });
      item.done = done;
      titleText.classList.toggle('review-done', done);
      clear(state, r.status === 'sent' ? null : chip(t('sup.waiting'), 'warn'));
    } catch (e) {
      box.checked = !done;
      error.textContent = problemText(e);
      error.hidden = false;
    }
    box.disabled = false;
    showOverdue();
    onChange();
  }
  return h('li', { class: 'list-row review-item' },
    h('label', { class: 'check grow' }, box,
      h('span', {}, titleText,
        h('span', { class: 'meta review-due' }, t('reviews.due', { when: date(item.due_date + 'T12:00:00') })))),
    overdue, state, error);
}

// ---- The form ----

async function renderForm(ctx, root, engineerId) {
  await withStates(root, async () => {
    const team = Object.values(await teamById()).sort((a, b) => a.name.localeCompare(b.name));
    if (!team.length) return empty(t('reviews.no_team'));
    return reviewForm(ctx, team, engineerId);
  });
}

function reviewForm(ctx, team, engineerId) {
  const engineer = h('select', { class: 'select', name: 'engineer_id', required: true },
    h('option', { value: '' }, t('reviews.choose')),
    team.map((u) => h('option', { value: u.id, selected: u.id === engineerId }, u.name)));
  // A review usually looks back at the month just ended.
  const period = h('select', { class: 'select', name: 'period' },
    monthOptions(12).map((m, i) => h('option', { value: m, selected: i === 1 }, monthName(m))));
  const summary = h('textarea', { class: 'textarea', name: 'summary', required: true, maxlength: 10000 });
  const strengths = h('textarea', { class: 'textarea', name: 'strengths', maxlength: 10000, rows: 3 });
  const improvements = h('textarea', { class: 'textarea', name: 'improvements', maxlength: 10000, rows: 3 });

  const itemsBox = h('div', { class: 'review-rows' });
  const targetsBox = h('div', { class: 'review-rows' });
  const message = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const save = h('button', { type: 'submit', class: 'btn btn-primary btn-big btn-block' }, t('reviews.save'));

  // Rows are renumbered after each removal so that names match the server's errors (action_items.0.title).
  const renumber = () => {
    [...itemsBox.children].forEach((row, i) => row.dispatchEvent(new CustomEvent('renumber', { detail: i })));
    [...targetsBox.children].forEach((row, i) => row.dispatchEvent(new CustomEvent('renumber', { detail: i })));
  };
  const addItem = (focus) => {
    const title = h('input', { class: 'input', maxlength: 200 });
    const due = h('input', { class: 'input', type: 'date' });
    const titleField = field('', title);
    const dueField = field('', due);
    const remove = button('×', () => { row.remove(); renumber(); }, { kind: 'ghost' });
    const row = h('div', { class: 'review-row review-row-item' }, titleField, dueField, remove);
    row.addEventListener('renumber', (ev) => {
      const n = ev.detail + 1;
      title.name = `action_items.${ev.detail}.title`;
      due.name = `action_items.${ev.detail}.due_date`;
      titleField.querySelector('label').textContent = t('reviews.item_title', { n });
      dueField.querySelector('label').textContent = t('reviews.item_due', { n });
      remove.setAttribute('aria-label', t('reviews.item_remove', { n }));
    });
    itemsBox.append(row);
    renumber();
    if (focus) title.focus();
  };
  const addTarget = (focus) => {
    const metric = h('select', { class: 'select' }, h('option', { value: '' }, t('reviews.choose')),
      METRICS.map((key) => h('option', { value: key }, t(`metric.${key}`))));
    const value = h('input', { class: 'input', type: 'number', step: 'any', inputmode: 'decimal' });
    const metricField = field('', metric);
    const valueField = field('', value);
    const remove = button('×', () => { row.remove(); renumber(); }, { kind: 'ghost' });
    const row = h('div', { class: 'review-row review-row-target' }, metricField, valueField, remove);
    row.addEventListener('renumber', (ev) => {
      const n = ev.detail + 1;
      metric.name = `target.${ev.detail}.metric`;
      value.name = `target.${ev.detail}.value`;
      metricField.querySelector('label').textContent = t('reviews.target_metric', { n });
      valueField.querySelector('label').textContent = t('reviews.target_value', { n });
      remove.setAttribute('aria-label', t('reviews.target_remove', { n }));
    });
    targetsBox.append(row);
    renumber();
    if (focus) metric.focus();
  };
  addItem(false);
  addTarget(false);

  const form = h('form', { class: 'form review-form', novalidate: true, onsubmit: (ev) => { ev.preventDefault(); submit(); } },
    h('div', { class: 'cols-2' }, field(t('reviews.engineer'), engineer), field(t('reviews.period'), period)),
    field(t('reviews.summary'), summary),
    h('div', { class: 'cols-2' }, field(t('reviews.strengths_label'), strengths), field(t('reviews.improvements_label'), improvements)),
    h('fieldset', {}, h('legend', {}, t('reviews.items')), itemsBox,
      button(`+ ${t('reviews.item_add')}`, () => addItem(true))),
    h('fieldset', {}, h('legend', {}, t('reviews.targets')), h('p', { class: 'meta' }, t('reviews.targets_hint')), targetsBox,
      button(`+ ${t('reviews.target_add')}`, () => addTarget(true))),
    message, save, link(t('common.cancel'), '#/reviews', { kind: 'ghost block' }));

  // The body the API takes, or the client-side errors by control name.
  function collect() {
    const errors = {};
    const body = { engineer_id: Number(engineer.value), period: period.value, summary: summary.value.trim(), action_items: [] };
    if (!engineer.value) errors.engineer_id = [t('reviews.need_engineer')];
    if (!body.summary) errors.summary = [t('reviews.need_summary')];
    if (strengths.value.trim()) body.strengths = strengths.value.trim();
    if (improvements.value.trim()) body.improvements = improvements.value.trim();
    [...itemsBox.children].forEach((row, i) => {
      const [title, due] = row.querySelectorAll('input');
      const text = title.value.trim();
      if (!text && !due.value) return;
      if (!text) errors[`action_items.${i}.title`] = [t('reviews.need_title')];
      if (!due.value) errors[`action_items.${i}.due_date`] = [t('reviews.need_due')];
      body.action_items.push({ title: text, due_date: due.value });
    });
    const targets = {};
    [...targetsBox.children].forEach((row, i) => {
      const metric = row.querySelector('select');
      const value = row.querySelector('input');
      if (!metric.value && value.value === '') return;
      if (!metric.value) errors[`target.${i}.metric`] = [t('reviews.need_metric')];
      const n = value.valueAsNumber;
      if (value.value === '' || Number.isNaN(n)) errors[`target.${i}.value`] = [t('reviews.need_value')];
      else if (metric.value) targets[metric.value] = n;
    });
    if (Object.keys(targets).length) body.next_targets = targets;
    return { body, errors };
  }

  // The server names a bad target by its metric (next_targets.nps); the control is the row's value.
  function serverErrors(errors) {
    const flat = flatErrors(errors);
    const rows = [...targetsBox.children];
    for (const [name, messages] of Object.entries(flat)) {
      const m = name.match(/^next_targets\.(\w+)(?:\.value|\.key)?$/);
      if (!m) continue;
      const i = rows.findIndex((row) => row.querySelector('select').value === m[1]);
      if (i >= 0) { flat[`target.${i}.value`] = messages; delete flat[name]; }
    }
    return flat;
  }

  async function submit() {
    message.hidden = true;
    const { body, errors } = collect();
    showFieldErrors(form, errors);
    if (Object.keys(errors).length) return;
    save.disabled = true;
    const name = team.find((u) => u.id === body.engineer_id)?.name || '';
    try {
      const r = await queue.submit({
        kind: 'review', method: 'POST', path: 'reviews', json: body,
        label: t('reviews.action', { engineer: name, month: monthName(body.period) }),
      });
      toast(t(r.status === 'sent' ? 'reviews.saved' : 'reviews.queued'), 'ok');
      ctx.navigate(`#/reviews/${body.engineer_id}`);
    } catch (e) {
      save.disabled = false;
      const flat = e.errors ? serverErrors(e.errors) : {};
      showFieldErrors(form, flat);
      const shown = Object.keys(flat).some((n) => form.querySelector(`[name="${CSS.escape(n)}"]`));
      message.textContent = shown ? problemText(e) : [problemText(e), ...Object.values(flat).flat()].join(' ');
      message.hidden = false;
    }
  }
  return form;
}

