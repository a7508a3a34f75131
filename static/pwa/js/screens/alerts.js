// #/alerts[/dismissed]: early warnings on the team (kpi.md), newest first, worded from their
// kind and figures, linked to their job, visits and engineer; dismiss one (with a note) or
// make it a review's action item, through the offline outbox.
import { t, register, dateTime, date, problemText } from '../i18n.js';
import * as api from '../api.js';
import * as queue from '../outbox-client.js';
import { h, clear, button, chip, field, empty, staleNote, withStates, toast, showFieldErrors } from '../ui.js';
import { useStyles, teamById, monthName, flatErrors } from './supervisor/shared.js';
import { word } from '../fieldwork.js';

register({
  en: {
    'alerts.title': 'Alerts',
    'alerts.open': 'Open', 'alerts.dismissed': 'Dismissed', 'alerts.show': 'Show',
    'alerts.none': 'No open alerts. Warnings about low ratings, watch-list words, late first contacts and repeated flags appear here.',
    'alerts.none_dismissed': 'No dismissed alerts.',
    'alerts.count': { one: '{n} open alert', other: '{n} open alerts' },
    'alerts.kind.NEGATIVE_FEEDBACK': 'Low rating', 'alerts.kind.KEYWORD': 'Watch-list words',
    'alerts.kind.SLA_RISK': 'First contact late', 'alerts.kind.FLAG_PATTERN': 'Repeated flags',
    'alerts.what.NEGATIVE_FEEDBACK': 'A customer gave job #{job} a low rating.',
    'alerts.what.KEYWORD': 'Watch-list words in job #{job}.',
    'alerts.what.KEYWORD_nojob': 'Watch-list words in a text.',
    'alerts.what.SLA_RISK': 'Job #{job} has had no first contact within its time limit.',
    'alerts.what.FLAG_PATTERN': '{engineer} has had 3 or more visits flagged or rejected within 14 days.',
    'alerts.raised': '{engineer} · raised {when}',
    'alerts.dismissed_at': 'Dismissed {when}',
    'alerts.dismiss': 'Dismiss', 'alerts.dismiss_label': 'Dismiss the alert: {what}',
    'alerts.action': 'Dismiss alert #{id}', 'alerts.done': 'Alert dismissed.',
    'alerts.queued': 'Saved on this device: waiting to send.',
    'alerts.sep': ', ',
    'alerts.say.NEGATIVE_FEEDBACK': 'The customer scored job #{job} {score}/10.',
    'alerts.say.KEYWORD.feedback': 'The customer’s feedback on job #{job} mentions {terms}.',
    'alerts.say.KEYWORD.job_description': 'The description of job #{job} mentions {terms}.',
    'alerts.say.KEYWORD.job_resolution': 'The resolution of job #{job} mentions {terms}.',
    'alerts.say.SLA_RISK': 'Job #{job} ({priority}) has had no first contact: its {limit} limit passed at {due}.',
    'alerts.say.FLAG_PATTERN': { one: '{n} visit flagged or rejected in the {days} days to {until}.', other: '{n} visits flagged or rejected in the {days} days to {until}.' },
    'alerts.minutes': { one: '{n}-minute', other: '{n}-minute' },
    'alerts.open_job': 'Job #{id}', 'alerts.open_visit': 'Visit #{id}', 'alerts.open_engineer': '{name}’s page',
    'alerts.note': 'Note (optional)',
    'alerts.dismiss_note': 'Note: “{note}”',
    'alerts.make_item': 'Make an action item',
    'alerts.make_item_label': 'Make an action item of the alert: {what}',
    'alerts.review': 'Review', 'alerts.item_title': 'Action', 'alerts.item_due': 'Due date',
    'alerts.item_save': 'Add to the review',
    'alerts.no_reviews': 'No review of {engineer} yet: hold one first (Reviews).',
    'alerts.item_action': 'Action item from alert #{id}',
    'alerts.item_done': 'Action item added to the review; alert closed.',
    'alerts.item_made': 'Made an action item',
    'alerts.title_required': 'Write the action.', 'alerts.due_required': 'Give a due date.',
  },
  'zh-CN': {
    'alerts.title': '预警',
    'alerts.open': '未处理', 'alerts.dismissed': '已忽略', 'alerts.show': '显示',
    'alerts.none': '没有未处理的预警。低分评价、关注词、首次联系超时和多次被标记的上门会在这里提示。',
    'alerts.none_dismissed': '没有已忽略的预警。',
    'alerts.count': { other: '{n} 条未处理预警' },
    'alerts.kind.NEGATIVE_FEEDBACK': '低分评价', 'alerts.kind.KEYWORD': '关注词',
    'alerts.kind.SLA_RISK': '首次联系超时', 'alerts.kind.FLAG_PATTERN': '多次被标记',
    'alerts.what.NEGATIVE_FEEDBACK': '客户给工单 #{job} 打了低分。',
    'alerts.what.KEYWORD': '工单 #{job} 中出现关注词。',
    'alerts.what.KEYWORD_nojob': '文本中出现关注词。',
    'alerts.what.SLA_RISK': '工单 #{job} 超过时限仍未首次联系客户。',
    'alerts.what.FLAG_PATTERN': '{engineer} 在 14 天内有 3 次或以上上门被标记或驳回。',
    'alerts.raised': '{engineer} · {when} 提出',
    'alerts.dismissed_at': '已于 {when} 忽略',
    'alerts.dismiss': '忽略', 'alerts.dismiss_label': '忽略预警：{what}',
    'alerts.action': '忽略预警 #{id}', 'alerts.done': '已忽略该预警。',
    'alerts.queued': '已保存在本机：等待发送。',
    'alerts.sep': '、',
    'alerts.say.NEGATIVE_FEEDBACK': '客户给工单 #{job} 打了 {score}/10 分。',
    'alerts.say.KEYWORD.feedback': '客户对工单 #{job} 的评价中出现关注词：{terms}。',
    'alerts.say.KEYWORD.job_description': '工单 #{job} 的描述中出现关注词：{terms}。',
    'alerts.say.KEYWORD.job_resolution': '工单 #{job} 的处理结果中出现关注词：{terms}。',
    'alerts.say.SLA_RISK': '工单 #{job}（{priority}）仍未首次联系客户：{limit}时限已于 {due} 到期。',
    'alerts.say.FLAG_PATTERN': { other: '截至 {until}，{days} 天内有 {n} 次上门被标记或驳回。' },
    'alerts.minutes': { other: '{n} 分钟' },
    'alerts.open_job': '工单 #{id}', 'alerts.open_visit': '上门 #{id}', 'alerts.open_engineer': '{name} 的主页',
    'alerts.note': '备注（可选）',
    'alerts.dismiss_note': '备注：“{note}”',
    'alerts.make_item': '转为改进事项',
    'alerts.make_item_label': '将预警转为改进事项：{what}',
    'alerts.review': '面谈', 'alerts.item_title': '改进事项', 'alerts.item_due': '截止日期',
    'alerts.item_save': '加入面谈',
    'alerts.no_reviews': '{engineer} 还没有面谈记录：请先在“面谈”中创建。',
    'alerts.item_action': '由预警 #{id} 生成改进事项',
    'alerts.item_done': '已加入面谈的改进事项；预警已关闭。',
    'alerts.item_made': '已转为改进事项',
    'alerts.title_required': '请填写改进事项。', 'alerts.due_required': '请填写截止日期。',
  },
});

export const roles = ['supervisor', 'admin'];
export const title = 'alerts.title';

const TONE = { NEGATIVE_FEEDBACK: 'bad', KEYWORD: 'bad', SLA_RISK: 'warn', FLAG_PATTERN: 'warn' };

export default async function render(ctx) {
  const dismissed = ctx.params[0] === 'dismissed';
  const filter = h('div', { class: 'btn-row sup-toolbar', role: 'group', 'aria-label': t('alerts.show') },
    [['open', '#/alerts'], ['dismissed', '#/alerts/dismissed']].map(([name, href]) => {
      const on = (name === 'dismissed') === dismissed;
      return h('a', { class: ['btn', on && 'btn-primary'], href, 'aria-current': on ? 'page' : null }, t(`alerts.${name}`));
    }));
  const body = h('div', {});
  ctx.main.replaceChildren(filter, body);
  await useStyles();
  await withStates(body, async () => {
    const [{ data, stale }, team] = await Promise.all([
      api.load('alerts', { dismissed: dismissed ? 'true' : 'false', per_page: 100 }),
      teamById().catch(() => ({})),
    ]);
    if (!data.items.length) return [staleNote(stale), empty(t(dismissed ? 'alerts.none_dismissed' : 'alerts.none'))];
    const waiting = new Set(queue.pending((e) => e.kind === 'dismiss-alert' && e.state !== 'refused').map((e) => e.alert_id));
    const counter = h('p', { class: 'meta', role: 'status' }, dismissed ? '' : t('alerts.count', { n: data.total }));
    let open = data.total;
    const onDismissed = () => {
      open -= 1;
      counter.textContent = t('alerts.count', { n: open });
      if (open === 0) clear(body, empty(t('alerts.none')));
    };
    return [staleNote(stale), counter,
      h('ul', { class: 'list wide-list' }, data.items.map((a) => alertRow(a, team, waiting.has(a.id), onDismissed)))];
  });
}

// The reason in the user's language, from the alert's kind and figures (never the server's
// English sentence).
function whatText(alert, engineer) {
  const p = alert.params || {};
  const job = p.job_id || alert.job_id;
  const terms = (p.terms || alert.matched || []).join(t('alerts.sep'));
  switch (alert.kind) {
    case 'NEGATIVE_FEEDBACK': return t('alerts.say.NEGATIVE_FEEDBACK', { job, score: p.score });
    case 'KEYWORD':
      if (!job) return t('alerts.what.KEYWORD_nojob');
      return t(`alerts.say.KEYWORD.${p.source || 'feedback'}`, { job, terms });
    case 'SLA_RISK': return t('alerts.say.SLA_RISK', {
      job, priority: word('priority', p.priority), limit: t('alerts.minutes', { n: p.limit_minutes }), due: dateTime(p.due_at) });
    case 'FLAG_PATTERN': return t('alerts.say.FLAG_PATTERN', { n: p.count, days: p.days, until: date(p.until) });
    default: return t(`alerts.what.${alert.kind}`, { job, engineer });
  }
}

function quoted(alert) {
  const p = alert.params || {};
  const text = alert.kind === 'NEGATIVE_FEEDBACK' ? p.comment : alert.kind === 'KEYWORD' ? p.excerpt : null;
  return text ? h('blockquote', { class: 'alert-detail' }, `“${text}”`) : null;
}

// Where to look: the job, the visits (a flag pattern's), the engineer's page.
function links(alert, engineer) {
  const p = alert.params || {};
  const out = [];
  if (alert.job_id) out.push(h('a', { href: `#/dispatch/${alert.job_id}` }, t('alerts.open_job', { id: alert.job_id })));
  const visits = p.visit_ids || (alert.visit_id ? [alert.visit_id] : []);
  for (const id of visits) out.push(h('a', { href: `#/queue/visit/${id}` }, t('alerts.open_visit', { id })));
  if (alert.engineer_id) out.push(h('a', { href: `#/engineer/${alert.engineer_id}` }, t('alerts.open_engineer', { name: engineer })));
  return out.length ? h('p', { class: 'alert-links' }, out) : null;
}

function alertRow(alert, team, isWaiting, onDismissed) {
  const person = team[alert.engineer_id];
  const engineer = person ? person.name : (alert.engineer_id ? `#${alert.engineer_id}` : '—');
  const what = whatText(alert, engineer);
  const status = h('div', { class: 'alert-status', role: 'status' });
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const open = !alert.dismissed_at;
  const note = h('input', { class: 'input', name: 'note', maxlength: 2000 });
  const dismiss = open ? button(t('alerts.dismiss'), () => act(), { 'aria-label': t('alerts.dismiss_label', { what }) }) : null;
  const make = open && alert.engineer_id ? button(t('alerts.make_item'), () => openItemForm(), { 'aria-label': t('alerts.make_item_label', { what }) }) : null;
  const itemSlot = h('div', {});
  const actions = open ? h('form', { class: 'form alert-actions', onsubmit: (ev) => { ev.preventDefault(); act(); } },
    field(t('alerts.note'), note), h('div', { class: 'btn-row' }, dismiss, make)) : null;
  const row = h('li', { class: ['card', 'alert-card', `alert-${(TONE[alert.kind] || 'info')}`] },
    h('div', { class: 'card-row' },
      chip(t(`alerts.kind.${alert.kind}`), TONE[alert.kind]),
      h('strong', { class: 'grow' }, what)),
    h('p', { class: 'meta' }, t('alerts.raised', { engineer, when: dateTime(alert.created_at) })),
    quoted(alert),
    (alert.matched || []).length ? h('ul', { class: 'chips' }, alert.matched.map((m) => h('li', {}, chip(m, 'warn')))) : null,
    links(alert, engineer),
    alert.dismissed_at ? h('p', { class: 'meta' }, alert.action_item_id ? t('alerts.item_made') : t('alerts.dismissed_at', { when: dateTime(alert.dismissed_at) }),
      alert.dismiss_note ? [' · ', t('alerts.dismiss_note', { note: alert.dismiss_note })] : null) : null,
    error, status, actions, itemSlot);
  if (isWaiting) showWaiting();

  function showWaiting() {
    if (actions) actions.hidden = true;
    clear(itemSlot);
    clear(status, chip(t('sup.waiting'), 'warn'), ' ', t('alerts.queued'));
  }
  async function send(action, done) {
    error.hidden = true;
    try {
      const r = await queue.submit(action);
      if (r.status === 'sent') {
        toast(done, 'ok');
        onDismissed();
        row.remove();
      } else {
        showWaiting();
      }
      return null;
    } catch (e) {
      error.textContent = problemText(e);
      error.hidden = false;
      return e;
    }
  }
  async function act() {
    dismiss.disabled = true;
    const text = note.value.trim();
    await send({
      kind: 'dismiss-alert', method: 'POST', path: `alerts/${alert.id}/dismiss`, json: text ? { note: text } : {},
      label: t('alerts.action', { id: alert.id }), alert_id: alert.id, job_id: alert.job_id || undefined,
    }, t('alerts.done'));
    dismiss.disabled = false;
  }
  // An action item on one of the engineer's reviews (the latest chosen first).
  async function openItemForm() {
    if (itemSlot.firstChild) { clear(itemSlot); return; }
    make.disabled = true;
    let reviews = [];
    try {
      reviews = (await api.loadAll('reviews', { engineer_id: alert.engineer_id })).data
        .sort((a, b) => b.period.localeCompare(a.period));
    } catch (e) {
      error.textContent = problemText(e);
      error.hidden = false;
    }
    make.disabled = false;
    if (!reviews.length) { clear(itemSlot, h('p', { class: 'meta' }, t('alerts.no_reviews', { engineer }))); return; }
    const review = h('select', { class: 'select', name: 'review_id' },
      reviews.map((r) => h('option', { value: r.id }, monthName(r.period))));
    const title = h('input', { class: 'input', name: 'title', maxlength: 200, value: what.slice(0, 200) });
    const due = h('input', { class: 'input', type: 'date', name: 'due_date', value: inDays(14) });
    const form = h('form', { class: 'form alert-item', novalidate: true, onsubmit: (ev) => { ev.preventDefault(); save(); } },
      field(t('alerts.review'), review), field(t('alerts.item_title'), title), field(t('alerts.item_due'), due),
      h('div', { class: 'btn-row' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('alerts.item_save'))));
    clear(itemSlot, form);
    title.focus();
    async function save() {
      const missing = {};
      if (!title.value.trim()) missing.title = [t('alerts.title_required')];
      if (!due.value) missing.due_date = [t('alerts.due_required')];
      showFieldErrors(form, missing);
      if (Object.keys(missing).length) return;
      const refused = await send({
        kind: 'alert-action-item', method: 'POST', path: `alerts/${alert.id}/action-item`,
        json: { review_id: Number(review.value), title: title.value.trim(), due_date: due.value },
        label: t('alerts.item_action', { id: alert.id }), alert_id: alert.id, job_id: alert.job_id || undefined,
      }, t('alerts.item_done'));
      if (refused && refused.errors) showFieldErrors(form, flatErrors(refused.errors));
    }
  }
  return row;
}

function inDays(n) {
  const d = new Date();
  d.setDate(d.getDate() + n);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}
