// #/queue: the supervisor's verification queue (verification.md), oldest first, as a compact
// list with filters and several-at-once approval; on a laptop (>= 1024 px) the open visit's
// card beside the list, up and down to move, Enter to decide; #/queue/visit/ID: one visit. One card per
// visit holds everything a decision needs: the flags in words, the positions against the
// site (drawn and written), the photos, the engineer's recent history; approve or reject
// with a note, one tap each. Decisions go through the offline outbox.
import { t, register, dateTime, distance, problemText } from '../i18n.js';
import * as api from '../api.js';
import * as queue from '../outbox-client.js';
import { flagText, flagShort, flagIcons, FLAGS, PLACE_FLAGS } from '../flags.js';
import { h, svg, clear, button, chip, field, empty, staleNote, withStates, toast, showFieldErrors, useStyles, mount } from '../ui.js';
import { teamById } from './supervisor/shared.js';

register({
  en: {
    'queue.title': 'Verification queue',
    'queue.count': { one: '{n} visit waiting for your decision, oldest first', other: '{n} visits waiting for your decision, oldest first' },
    'queue.none': 'No visit is waiting for a decision.',
    'queue.status.flagged': 'Flagged', 'queue.status.disputed': 'Disputed',
    'queue.visit_line': '{engineer} · {site}',
    'queue.when': 'Checked in {when} · stayed {stay}',
    'queue.when_open': 'Checked in {when} · not checked out',
    'queue.flags': 'Why it is here',
    'queue.event.in': 'Check-in', 'queue.event.out': 'Check-out',
    'queue.photo_flag': 'Photo ({kind}): {text}',
    'queue.dispute': 'Rejected {when}: “{note}”',
    'queue.dispute_note': 'The engineer disputes it: “{note}”',
    'queue.final': 'Your decision on this dispute is final.',
    'queue.positions': 'Positions',
    'queue.diagram': 'Site area {radius}; check-in {in_distance} away (±{in_accuracy}); check-out {out_distance} away (±{out_accuracy}).',
    'queue.diagram_open': 'Site area {radius}; check-in {in_distance} away (±{in_accuracy}); no check-out.',
    'queue.legend.site': 'Site and its area', 'queue.legend.in': 'Check-in', 'queue.legend.out': 'Check-out',
    'queue.pos.distance': '{distance} from the site', 'queue.pos.accuracy': '±{accuracy}',
    'queue.pos.none': 'Not checked out', 'queue.pos.mock': 'mock location',
    'queue.site_area': 'Site area', 'queue.radius': '{radius} radius',
    'queue.photos': 'Photos', 'queue.no_photos': 'No photos on this job.',
    'queue.photo_alt': '{kind} photo, {when}', 'queue.photo_open': 'Open the {kind} photo',
    'queue.kind.before': 'Before', 'queue.kind.after': 'After', 'queue.kind.signature': 'Signature', 'queue.kind.other': 'Other',
    'queue.history': 'Engineer’s history',
    'queue.history_line': 'Last {days} days: {visits} visits, {flagged} flagged, {rejected} rejected, {disputed} disputed.',
    'queue.history_none': 'No other flagged visits.',
    'queue.this_visit': 'this visit',
    'queue.note': 'Note (required to reject)',
    'queue.note_required': 'Write why you reject this visit.',
    'queue.approve': 'Approve', 'queue.reject': 'Reject',
    'queue.approve_visit': 'Approve the visit of {engineer} to {site}',
    'queue.reject_visit': 'Reject the visit of {engineer} to {site}',
    'queue.action.approve': 'Approve visit #{id}', 'queue.action.reject': 'Reject visit #{id}',
    'queue.done_approved': 'Visit approved.', 'queue.done_rejected': 'Visit rejected.',
    'queue.queued': 'Decision saved on this device: waiting to send.',
    'queue.status.approved': 'Approved', 'queue.status.rejected': 'Rejected', 'queue.status.verified': 'Verified',
    'queue.north': 'N',
    'queue.minutes': '{n} min', 'queue.hours': '{h} h {m} min',
    'queue.legend.flagged': 'Flagged position',
    'queue.filter.flag': 'Flag', 'queue.filter.any_flag': 'Any flag',
    'queue.filter.engineer': 'Engineer',
    'queue.filter.age': 'Waiting', 'queue.filter.any_age': 'Any time',
    'queue.filter.older': { one: 'Over {n} hour', other: 'Over {n} hours' },
    'queue.filter.sort': 'Order', 'queue.sort.oldest': 'Oldest first', 'queue.sort.most_flags': 'Most flags first',
    'queue.count_filtered': { one: '{n} visit matches', other: '{n} visits match' },
    'queue.none_filtered': 'No visit matches these filters.',
    'queue.age.min': '{n} min', 'queue.age.h': '{n} h', 'queue.age.d': '{n} d',
    'queue.age_label': 'Checked in {age} ago',
    'queue.select': 'Select the visit of {engineer} to {site}',
    'queue.select_all': 'Select all',
    'queue.approve_selected': { one: 'Approve {n} visit', other: 'Approve {n} visits' },
    'queue.approve_selected_none': 'Select visits to approve',
    'queue.bulk_done': { one: '{n} visit approved.', other: '{n} visits approved.' },
    'queue.bulk_queued': { one: '{n} decision saved on this device: waiting to send.', other: '{n} decisions saved on this device: waiting to send.' },
    'queue.bulk_refused': { one: '{n} decision refused: open the visit to see why.', other: '{n} decisions refused: open the visits to see why.' },
    'queue.open': 'Open the visit of {engineer} to {site}',
    'queue.note_in': 'Engineer’s note at check-in: “{note}”',
    'queue.detail': 'The open visit',
    'queue.keys': 'Up and down arrows move through the list; Enter goes to the decision.',
  },
  'zh-CN': {
    'queue.title': '待审核上门',
    'queue.count': { other: '{n} 次上门等待您的决定，最早的在前' },
    'queue.none': '没有等待审核的上门记录。',
    'queue.status.flagged': '已标记', 'queue.status.disputed': '申诉中',
    'queue.visit_line': '{engineer} · {site}',
    'queue.when': '签到于 {when} · 停留 {stay}',
    'queue.when_open': '签到于 {when} · 未签退',
    'queue.flags': '进入审核的原因',
    'queue.event.in': '签到', 'queue.event.out': '签退',
    'queue.photo_flag': '照片（{kind}）：{text}',
    'queue.dispute': '已于 {when} 驳回：“{note}”',
    'queue.dispute_note': '工程师申诉：“{note}”',
    'queue.final': '您对此申诉的决定为最终决定。',
    'queue.positions': '位置',
    'queue.diagram': '现场范围 {radius}；签到距离 {in_distance}（±{in_accuracy}）；签退距离 {out_distance}（±{out_accuracy}）。',
    'queue.diagram_open': '现场范围 {radius}；签到距离 {in_distance}（±{in_accuracy}）；未签退。',
    'queue.legend.site': '现场及其范围', 'queue.legend.in': '签到', 'queue.legend.out': '签退',
    'queue.pos.distance': '距现场 {distance}', 'queue.pos.accuracy': '±{accuracy}',
    'queue.pos.none': '未签退', 'queue.pos.mock': '模拟定位',
    'queue.site_area': '现场范围', 'queue.radius': '半径 {radius}',
    'queue.photos': '照片', 'queue.no_photos': '此工单没有照片。',
    'queue.photo_alt': '{kind}照片，{when}', 'queue.photo_open': '打开{kind}照片',
    'queue.kind.before': '维修前', 'queue.kind.after': '完工', 'queue.kind.signature': '签名', 'queue.kind.other': '其他',
    'queue.history': '工程师历史记录',
    'queue.history_line': '最近 {days} 天：上门 {visits} 次，被标记 {flagged} 次，驳回 {rejected} 次，申诉 {disputed} 次。',
    'queue.history_none': '没有其他被标记的上门。',
    'queue.this_visit': '本次',
    'queue.note': '备注（驳回时必填）',
    'queue.note_required': '请写明驳回此次上门的原因。',
    'queue.approve': '通过', 'queue.reject': '驳回',
    'queue.approve_visit': '通过 {engineer} 在 {site} 的上门',
    'queue.reject_visit': '驳回 {engineer} 在 {site} 的上门',
    'queue.action.approve': '通过上门 #{id}', 'queue.action.reject': '驳回上门 #{id}',
    'queue.done_approved': '已通过此次上门。', 'queue.done_rejected': '已驳回此次上门。',
    'queue.queued': '决定已保存在本机：等待发送。',
    'queue.status.approved': '已通过', 'queue.status.rejected': '已驳回', 'queue.status.verified': '已核实',
    'queue.north': '北',
    'queue.minutes': '{n} 分钟', 'queue.hours': '{h} 小时 {m} 分钟',
    'queue.legend.flagged': '被标记的位置',
    'queue.filter.flag': '标记', 'queue.filter.any_flag': '全部标记',
    'queue.filter.engineer': '工程师',
    'queue.filter.age': '等待时间', 'queue.filter.any_age': '不限',
    'queue.filter.older': { other: '超过 {n} 小时' },
    'queue.filter.sort': '排序', 'queue.sort.oldest': '最早的在前', 'queue.sort.most_flags': '标记最多的在前',
    'queue.count_filtered': { other: '{n} 次上门符合条件' },
    'queue.none_filtered': '没有符合这些条件的上门。',
    'queue.age.min': '{n} 分钟', 'queue.age.h': '{n} 小时', 'queue.age.d': '{n} 天',
    'queue.age_label': '{age}前签到',
    'queue.select': '选择 {engineer} 在 {site} 的上门',
    'queue.select_all': '全选',
    'queue.approve_selected': { other: '通过 {n} 次上门' },
    'queue.approve_selected_none': '选择要通过的上门',
    'queue.bulk_done': { other: '已通过 {n} 次上门。' },
    'queue.bulk_queued': { other: '{n} 个决定已保存在本机：等待发送。' },
    'queue.bulk_refused': { other: '{n} 个决定被拒绝：打开上门查看原因。' },
    'queue.open': '打开 {engineer} 在 {site} 的上门',
    'queue.note_in': '工程师签到备注：“{note}”',
    'queue.detail': '当前打开的上门',
    'queue.keys': '上下方向键在列表中移动；回车键进入审核决定。',
  },
});

export const roles = ['supervisor', 'admin'];
export const title = 'queue.title';

const STATUS_TONE = { flagged: 'warn', disputed: 'bad', approved: 'ok', rejected: 'bad', verified: 'ok' };
const AGES = [1, 4, 24, 72];

export default async function render(ctx) {
  const root = mount(ctx);
  let lines = new Map(); // visit id → line controller, of the list last asked for
  let asked = 0;
  // A decision kept offline becomes final on the card once the outbox has sent it.
  ctx.onCleanup(queue.subscribe((state) => {
    if (!ctx.isCurrent()) return;
    for (const line of lines.values()) line.sync(state);
  }));
  await useStyles();
  if (ctx.params[0] === 'visit') {
    // #/queue/visit/ID: one visit's card (opened from an alert), decided or not.
    await withStates(root, async () => {
      const { data, stale } = await api.load(`visits/${Number(ctx.params[1])}`);
      const card = visitCard(data);
      if (!['flagged', 'disputed'].includes(data.status)) card.el.querySelector('form').hidden = true;
      lines.set(data.id, { sync: card.sync });
      return [staleNote(stale), h('p', {}, h('a', { href: '#/queue' }, `← ${t('queue.title')}`)), card.el];
    });
    return;
  }
  const filters = { flag: '', engineer_id: '', older_than_h: '', sort: 'oldest' };
  const team = await teamById().catch(() => ({}));
  const select = (name, label, options) => field(label, h('select', {
    class: 'select', name,
    onchange: (ev) => { filters[name] = ev.target.value; load(); },
  }, options.map(([value, text]) => h('option', { value, selected: filters[name] === value }, text))));
  const bar = h('form', { class: 'vq-filters', onsubmit: (ev) => ev.preventDefault() },
    select('flag', t('queue.filter.flag'), [['', t('queue.filter.any_flag')], ...FLAGS.map((f) => [f, flagShort(f)])]),
    select('engineer_id', t('queue.filter.engineer'), [['', t('sup.all_engineers')],
      ...Object.values(team).sort((a, b) => a.name.localeCompare(b.name)).map((u) => [String(u.id), u.name])]),
    select('older_than_h', t('queue.filter.age'), [['', t('queue.filter.any_age')], ...AGES.map((n) => [String(n), t('queue.filter.older', { n })])]),
    select('sort', t('queue.filter.sort'), [['oldest', t('queue.sort.oldest')], ['most_flags', t('queue.sort.most_flags')]]));
  const body = h('div', {});
  root.append(bar, body);
  // On a laptop the list and the open visit's card side by side: the card of the selected
  // line is moved into the pane (and back under its line at a phone's width), so a note
  // being written stays with its card.
  const wide = window.matchMedia('(min-width: 1024px)');
  const pane = h('section', { class: 'vq-detail', id: 'vq-detail', 'aria-label': t('queue.detail') });
  let current = null; // the line whose card is open beside the list (or last opened on a phone)
  function show(line, focus = false) {
    if (current && current !== line) { current.dock(false); current.mark(false, wide.matches); }
    current = line;
    line.mark(true, wide.matches);
    if (wide.matches) line.showIn(pane);
    if (focus) line.card().focus();
  }
  function onWidth() {
    for (const line of lines.values()) line.mark(line === current, wide.matches);
    if (wide.matches) {
      const first = current || lines.values().next().value;
      if (first) show(first);
    } else if (current) {
      current.dock(true);
      current.mark(true, false);
    }
  }
  wide.addEventListener('change', onWidth);
  ctx.onCleanup(() => wide.removeEventListener('change', onWidth));
  // Laptop only: up and down move the selection (and the card) through the list, Enter on
  // a line takes the keyboard to its card's decision.
  function onKey(ev) {
    if (!wide.matches || ev.altKey || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    const all = [...lines.values()];
    const at = all.findIndex((l) => l.el.contains(ev.target));
    if (at < 0) return;
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      const next = all[Math.min(all.length - 1, Math.max(0, at + (ev.key === 'ArrowDown' ? 1 : -1)))];
      next.opener.focus();
      show(next);
    } else if (ev.key === 'Enter' && ev.target === all[at].opener) {
      ev.preventDefault();
      show(all[at], true);
    }
  }
  const opened = (line) => {
    if (!wide.matches) { current = line; return false; }
    show(line);
    return true;
  };
  await load();

  async function load() {
    const mine = ++asked;
    lines = new Map();
    current = null;
    pane.replaceChildren();
    await withStates(body, async () => {
      const { data, stale } = await api.loadAll('visits', { status: 'flagged,disputed', ...filters });
      // A filter changed meanwhile: the newer list is drawn, not this one.
      if (mine !== asked) throw new DOMException('superseded', 'AbortError');
      const filtered = filters.flag || filters.engineer_id || filters.older_than_h;
      if (!data.length) return [staleNote(stale), empty(t(filtered ? 'queue.none_filtered' : 'queue.none'))];
      const list = h('ul', { class: 'vq-lines', onkeydown: onKey });
      for (const visit of data) {
        const line = visitLine(visit, () => updateBulk(), opened);
        lines.set(visit.id, line);
        list.append(line.el);
      }
      const all = h('input', { type: 'checkbox', class: 'vq-check', onchange: () => {
        for (const line of lines.values()) line.select(all.checked);
        updateBulk();
      } });
      const approveMany = button('', () => approveSelected(), { kind: 'ok primary' });
      const outcome = h('p', { class: 'meta vq-bulk-outcome', role: 'status', 'aria-live': 'polite' });
      function updateBulk() {
        const n = [...lines.values()].filter((l) => l.selected()).length;
        approveMany.textContent = n ? t('queue.approve_selected', { n }) : t('queue.approve_selected_none');
        approveMany.disabled = n === 0;
        const open = [...lines.values()].filter((l) => l.selectable());
        all.checked = open.length > 0 && open.every((l) => l.selected());
      }
      // One request per visit, each with its own key through the outbox (replay-safe).
      async function approveSelected() {
        const chosen = [...lines.values()].filter((l) => l.selected());
        approveMany.disabled = true;
        const count = { sent: 0, queued: 0, refused: 0 };
        for (const line of chosen) count[await line.card().decide('approve')] += 1;
        updateBulk();
        clear(outcome, [count.sent ? t('queue.bulk_done', { n: count.sent }) : null,
          count.queued ? t('queue.bulk_queued', { n: count.queued }) : null,
          count.refused ? t('queue.bulk_refused', { n: count.refused }) : null].filter(Boolean).join(' '));
        if (count.sent) toast(t('queue.bulk_done', { n: count.sent }), 'ok');
      }
      updateBulk();
      onWidth(); // nothing open yet: on a laptop, the first line's card beside the list
      return [staleNote(stale), h('div', { class: 'vq-md' },
        h('div', { class: 'vq-master' },
          h('p', { class: 'meta', role: 'status' }, filtered ? t('queue.count_filtered', { n: data.length }) : t('queue.count', { n: data.length })),
          h('div', { class: 'vq-bulk' }, h('label', { class: 'vq-all' }, all, ' ', t('queue.select_all')), approveMany),
          outcome, h('p', { class: 'meta vq-keys' }, t('queue.keys')), list),
        pane)];
    });
  }
}

function ageText(iso) {
  const minutes = Math.max(0, (Date.now() - new Date(iso)) / 60000);
  if (minutes < 60) return t('queue.age.min', { n: Math.round(minutes) });
  if (minutes < 48 * 60) return t('queue.age.h', { n: Math.floor(minutes / 60) });
  return t('queue.age.d', { n: Math.floor(minutes / 1440) });
}

// One line of the compact list: tick it for the bulk approval, tap it to open the full card
// (under the line; beside the list on a laptop, where `onOpen` shows it and answers true).
function visitLine(visit, onChange, onOpen = () => false) {
  const engineer = visit.engineer ? visit.engineer.name : `#${visit.engineer_id}`;
  const site = visit.site ? visit.site.name : `#${visit.site_id}`;
  const inTime = visit.check_in && visit.check_in.client_time;
  let card = null;
  let decided = false;
  const check = h('input', { type: 'checkbox', class: 'vq-check', 'aria-label': t('queue.select', { engineer, site }), onchange: onChange });
  const state = h('span', { class: 'vq-line-state' }, chip(t(`queue.status.${visit.status}`), STATUS_TONE[visit.status]));
  const slot = h('div', { class: 'vq-slot', hidden: true });
  const open = h('button', {
    type: 'button', class: 'vq-line-open', 'aria-expanded': 'false', 'aria-label': t('queue.open', { engineer, site }),
    onclick: () => {
      if (onOpen(line)) return;
      line.dock(false);
      slot.hidden = !slot.hidden;
      open.setAttribute('aria-expanded', String(!slot.hidden));
    },
  },
  h('span', { class: 'vq-line-who' }, h('strong', {}, engineer), ' · ', site),
  flagIcons(visit.flags),
  h('span', { class: 'vq-age', title: dateTime(inTime) }, t('queue.age_label', { age: ageText(inTime) })),
  visit.check_in_note ? h('span', { class: 'vq-line-note' }, `“${visit.check_in_note}”`) : null);
  const el = h('li', { class: ['vq-line', `vq-${visit.status}`] }, h('div', { class: 'vq-line-row' }, check, open, state), slot);

  function ensureCard() {
    if (!card) {
      card = visitCard(visit, (status, tone) => {
        decided = true;
        check.checked = false;
        check.disabled = true;
        clear(state, chip(status === 'waiting' ? t('sup.waiting') : t(`queue.status.${status}`), tone));
        onChange();
      });
      slot.append(card.el);
    }
    return card;
  }
  if (queue.pending((e) => e.kind === 'verify' && e.visit_id === visit.id && e.state !== 'refused').length) ensureCard();
  const line = {
    el,
    opener: open,
    card: ensureCard,
    selected: () => check.checked && !check.disabled,
    selectable: () => !decided && !check.disabled,
    select(on) { if (!check.disabled) check.checked = on; },
    sync(s) { if (card) card.sync(s); },
    // Beside the list: the card moves into `pane`.
    showIn(pane) { if (ensureCard().el.parentNode !== pane) pane.replaceChildren(card.el); },
    // Back under its line (open there when `expand`).
    dock(expand) {
      if (ensureCard().el.parentNode !== slot) slot.append(card.el);
      if (expand) slot.hidden = false;
    },
    // The selected line on a laptop (aria-current, controls the pane); on a phone, whether
    // its card is open under it (aria-expanded).
    mark(on, wideMode) {
      el.classList.toggle('vq-current', on && wideMode);
      if (wideMode) {
        open.removeAttribute('aria-expanded');
        open.setAttribute('aria-controls', 'vq-detail');
        if (on) open.setAttribute('aria-current', 'true'); else open.removeAttribute('aria-current');
      } else {
        open.removeAttribute('aria-current');
        open.removeAttribute('aria-controls');
        open.setAttribute('aria-expanded', String(!slot.hidden));
      }
    },
  };
  return line;
}

function visitCard(visit, onStatus = () => {}) {
  const engineer = visit.engineer ? visit.engineer.name : `#${visit.engineer_id}`;
  const site = visit.site ? visit.site.name : `#${visit.site_id}`;
  const note = h('textarea', { class: 'textarea', name: 'note', maxlength: 2000, rows: 2 });
  const errorLine = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const approve = button(t('queue.approve'), () => decide('approve'), {
    kind: 'ok primary', 'aria-label': t('queue.approve_visit', { engineer, site }),
  });
  const reject = button(t('queue.reject'), () => decide('reject'), {
    kind: 'danger primary', 'aria-label': t('queue.reject_visit', { engineer, site }),
  });
  const form = h('form', { class: 'form vq-decide', novalidate: true, onsubmit: (ev) => ev.preventDefault() },
    field(t('queue.note'), note), errorLine, h('div', { class: 'btn-row' }, approve, reject));
  const outcome = h('div', { class: 'vq-outcome', role: 'status', 'aria-live': 'polite' });
  const el = h('article', { class: ['card', 'vq-card', `vq-${visit.status}`], 'aria-label': `${visit.job ? visit.job.title : ''} · ${engineer}` },
    header(visit, engineer, site),
    flagSection(visit),
    visit.status === 'disputed' ? disputeSection(visit) : null,
    h('div', { class: 'vq-evidence' }, positionSection(visit), h('div', {}, photoSection(visit), historySection(visit))),
    form, outcome);
  let pendingKey = null;

  // A waiting decision from an earlier session (made offline) is shown as such.
  const waiting = queue.pending((e) => e.kind === 'verify' && e.visit_id === visit.id && e.state !== 'refused');
  if (waiting.length) markWaiting(waiting[waiting.length - 1].key);

  function markWaiting(key) {
    pendingKey = key;
    form.hidden = true;
    clear(outcome, chip(t('sup.waiting'), 'warn'), ' ', t('queue.queued'));
    onStatus('waiting', 'warn');
  }
  function markDone(body, decision) {
    pendingKey = null;
    form.hidden = true;
    const status = (body && body.status) || (decision === 'approve' ? 'approved' : 'rejected');
    el.classList.remove(`vq-${visit.status}`);
    el.classList.add('vq-done');
    // The status before the decision leaves the head: the outcome below says what it is now.
    const headChip = el.querySelector('.vq-head .chip');
    if (headChip) headChip.remove();
    clear(outcome, chip(t(`queue.status.${status}`), STATUS_TONE[status] || ''),
      body && body.decision_note ? h('span', { class: 'meta' }, ` “${body.decision_note}”`) : null);
    onStatus(status, STATUS_TONE[status] || '');
  }
  function markRefused(error) {
    pendingKey = null;
    form.hidden = false;
    approve.disabled = false;
    reject.disabled = false;
    clear(outcome);
    errorLine.textContent = problemText(error);
    errorLine.hidden = false;
    if (error && error.errors) showFieldErrors(form, error.errors);
  }

  async function decide(decision, quiet = false) {
    const text = note.value.trim();
    errorLine.hidden = true;
    showFieldErrors(form, {});
    if (decision === 'reject' && !text) {
      showFieldErrors(form, { note: [t('queue.note_required')] });
      return 'refused';
    }
    approve.disabled = true;
    reject.disabled = true;
    const json = text ? { decision, note: text } : { decision };
    try {
      const r = await queue.submit({
        kind: 'verify', method: 'POST', path: `visits/${visit.id}/verify`, json,
        label: t(`queue.action.${decision}`, { id: visit.id }), visit_id: visit.id, job_id: visit.job_id,
      });
      if (r.status === 'sent') {
        markDone(r.body, decision);
        if (!quiet) toast(t(decision === 'approve' ? 'queue.done_approved' : 'queue.done_rejected'), 'ok');
        return 'sent';
      }
      markWaiting(r.key);
      return 'queued';
    } catch (error) {
      markRefused(error);
      return 'refused';
    }
  }

  async function sync(state) {
    if (!pendingKey) return;
    const key = pendingKey;
    const entry = state.entries.find((e) => e.key === key);
    if (entry && entry.state === 'refused') { markRefused(entry.error); return; }
    if (entry) return;
    const body = await queue.result(key);
    if (body !== undefined && pendingKey === key) markDone(body, body && body.status === 'rejected' ? 'reject' : 'approve');
  }

  // The keyboard to the decision: the note (then Approve, Reject), or the card once decided.
  function focus() {
    if (!form.hidden) { note.focus(); return; }
    el.tabIndex = -1;
    el.focus();
  }

  return { el, sync, focus, decide: (decision) => (form.hidden ? Promise.resolve(pendingKey ? 'queued' : 'sent') : decide(decision, true)) };
}

function header(visit, engineer, site) {
  const inTime = visit.check_in && visit.check_in.client_time;
  const outTime = visit.check_out && visit.check_out.client_time;
  const when = outTime
    ? t('queue.when', { when: dateTime(inTime), stay: stayText((new Date(outTime) - new Date(inTime)) / 60000) })
    : t('queue.when_open', { when: dateTime(inTime) });
  return h('header', { class: 'vq-head' },
    h('div', { class: 'card-row' },
      h('h2', { class: 'card-title grow' }, visit.job ? visit.job.title : t('sup.job', { id: visit.job_id })),
      chip(t(`queue.status.${visit.status}`), STATUS_TONE[visit.status])),
    h('p', { class: 'vq-who' }, t('queue.visit_line', { engineer, site })),
    h('p', { class: 'meta' }, `${t('sup.job', { id: visit.job_id })} · ${when}`),
    visit.check_in_note ? h('p', { class: 'vq-note' }, t('queue.note_in', { note: visit.check_in_note })) : null);
}

function stayText(minutes) {
  const m = Math.max(0, Math.round(minutes));
  return m < 60 ? t('queue.minutes', { n: m }) : t('queue.hours', { h: Math.floor(m / 60), m: m % 60 });
}

// Each flag in a sentence, said about the event (check-in, check-out, photo) that raised it.
function flagSentences(visit) {
  const out = [];
  const seen = new Set();
  const radius = visit.site ? visit.site.radius_m : null;
  for (const [event, fix] of [['in', visit.check_in], ['out', visit.check_out]]) {
    for (const flag of (fix && fix.flags) || []) {
      seen.add(flag);
      out.push(flagText(flag, fix, { self: false, at: { event: t(`queue.event.${event}`), radius_m: radius } }));
    }
  }
  for (const photo of visit.photos || []) {
    for (const flag of photo.flags || []) {
      seen.add(flag);
      out.push(t('queue.photo_flag', { kind: t(`queue.kind.${photo.kind}`), text: flagText(flag, {}, { self: false }) }));
    }
  }
  // Flags of the visit not tied to one event (NO_CHECKOUT, a photo flag added later).
  for (const flag of visit.flags || []) {
    if (!seen.has(flag)) { seen.add(flag); out.push(flagText(flag, visit.check_in || {}, { self: false })); }
  }
  return out;
}

function flagSection(visit) {
  const sentences = flagSentences(visit);
  return h('section', { class: 'vq-section' },
    h('h3', {}, t('queue.flags')),
    h('ul', { class: 'flags' }, sentences.map((s) => h('li', {}, s))));
}

function disputeSection(visit) {
  return h('section', { class: 'vq-section vq-dispute' },
    visit.decision_note ? h('p', {}, t('queue.dispute', { when: dateTime(visit.rejected_at || visit.decided_at), note: visit.decision_note })) : null,
    visit.dispute_note ? h('p', {}, t('queue.dispute_note', { note: visit.dispute_note })) : null,
    h('p', { class: 'vq-final' }, t('queue.final')));
}

function positionSection(visit) {
  const rows = [];
  for (const [event, fix] of [['in', visit.check_in], ['out', visit.check_out]]) {
    rows.push(h('dt', {}, t(`queue.event.${event}`)));
    rows.push(h('dd', {}, fix
      ? [h('strong', {}, t('queue.pos.distance', { distance: distance(fix.distance_m) })), ' ',
        h('span', { class: 'meta' }, `${t('queue.pos.accuracy', { accuracy: distance(fix.accuracy_m) })} · ${dateTime(fix.client_time)}`),
        fix.mock_location ? [' ', chip(t('queue.pos.mock'), 'bad')] : null]
      : h('span', { class: 'meta' }, t('queue.pos.none'))));
  }
  if (visit.site) {
    rows.push(h('dt', {}, t('queue.site_area')));
    rows.push(h('dd', {}, t('queue.radius', { radius: distance(visit.site.radius_m) })));
  }
  return h('section', { class: 'vq-section' },
    h('h3', {}, t('queue.positions')),
    visit.site ? diagram(visit) : null,
    h('dl', { class: 'kv' }, rows));
}

// The positions drawn around the site, north up, to scale (no map tiles): the site's area,
// each fix with its accuracy circle, and a scale bar.
function diagram(visit) {
  const site = visit.site;
  const size = 240;
  const centre = size / 2;
  const metresPerDegLat = 111_132;
  const metresPerDegLon = 111_320 * Math.cos((site.lat * Math.PI) / 180);
  const fixes = [['in', visit.check_in], ['out', visit.check_out]].filter(([, f]) => f && f.lat !== undefined && f.lat !== null)
    .map(([event, f]) => ({ event, x: (f.lon - site.lon) * metresPerDegLon, y: (f.lat - site.lat) * metresPerDegLat, accuracy: f.accuracy_m || 0, flagged: (f.flags || []).some((x) => PLACE_FLAGS.has(x)) }));
  let extent = site.radius_m * 1.4;
  for (const f of fixes) extent = Math.max(extent, Math.hypot(f.x, f.y) + Math.min(f.accuracy, 2000) + 20);
  const scale = (centre - 16) / extent; // px per metre
  const px = (m) => m * scale;
  const nodes = [
    svg('rect', { x: 0, y: 0, width: size, height: size, class: 'vq-map-bg' }),
    svg('circle', { cx: centre, cy: centre, r: Math.max(3, px(site.radius_m)), class: 'vq-map-area' }),
    // The site's cross under the fixes, which are see-through so that one right on it shows both.
    svg('path', { d: `M${centre - 7} ${centre}h14M${centre} ${centre - 7}v14`, class: 'vq-map-site' }),
  ];
  const labels = [];
  for (const f of fixes) {
    const cx = centre + px(f.x);
    const cy = centre - px(f.y);
    nodes.push(svg('line', { x1: centre, y1: centre, x2: cx, y2: cy, class: 'vq-map-line' }));
    if (f.accuracy) nodes.push(svg('circle', { cx, cy, r: Math.max(2, px(f.accuracy)), class: `vq-map-acc vq-map-acc-${f.event}` }));
    nodes.push(svg('circle', { cx, cy, r: f.flagged ? 8 : 7, class: `vq-map-fix vq-map-${f.event}${f.flagged ? ' vq-map-flagged' : ''}` }));
    labels.push({ cx, cy, event: f.event });
  }
  // Each label beside its point, on the side toward the middle, then the first place
  // (right, left, above, below) that stays inside and clear of the labels already placed.
  const placed = [...labels.map((l) => ({ x0: l.cx - 9, x1: l.cx + 9, y0: l.cy - 9, y1: l.cy + 9 })),
    { x0: size - 26, x1: size, y0: 8, y1: 42 }]; // the points and the north arrow
  for (const l of labels) {
    const text = t(`queue.legend.${l.event}`);
    const w = [...text].reduce((n, c) => n + (c.charCodeAt(0) > 0x2e80 ? 12 : 7), 0);
    const inward = l.cx < centre || (l.cx === centre && l.event === 'out') ? 1 : -1;
    const spots = [[inward, 0], [-inward, 0], [0, -1], [0, 1], [inward, -1.6], [inward, 1.6]].map(([sx, sy]) => {
      const x0 = sx > 0 ? l.cx + 11 : sx < 0 ? l.cx - 11 - w : l.cx - w / 2;
      const y0 = l.cy + sy * 16 - 7;
      return { x0, y0, x1: x0 + w, y1: y0 + 14 };
    });
    const inside = (b) => b.x0 >= 2 && b.x1 <= size - 2 && b.y0 >= 2 && b.y1 <= size - 30;
    const clearOf = (b) => placed.every((p) => b.x1 <= p.x0 || b.x0 >= p.x1 || b.y1 <= p.y0 || b.y0 >= p.y1);
    const box = spots.find((b) => inside(b) && clearOf(b)) || spots.find(clearOf) || spots[0];
    placed.push(box);
    nodes.push(svg('text', { x: box.x0, y: box.y1 - 2, class: 'vq-map-label' }, text));
  }
  // A scale bar of a round length about a quarter of the width.
  const target = extent / 2;
  const step = [1, 2, 5].flatMap((m) => [m, m * 10, m * 100, m * 1000, m * 10000]).sort((a, b) => a - b)
    .filter((m) => m <= target).pop() || 1;
  nodes.push(svg('path', { d: `M12 ${size - 14}h${px(step)}M12 ${size - 19}v10M${12 + px(step)} ${size - 19}v10`, class: 'vq-map-scale' }));
  nodes.push(svg('text', { x: 12, y: size - 24, class: 'vq-map-label' }, distance(step)));
  nodes.push(svg('text', { x: size - 14, y: 22, class: 'vq-map-label', 'text-anchor': 'middle' }, t('queue.north')));
  nodes.push(svg('path', { d: `M${size - 14} 28l-5 12h10z`, class: 'vq-map-north' }));
  const out = visit.check_out;
  const label = out
    ? t('queue.diagram', { radius: distance(site.radius_m), in_distance: distance(visit.check_in.distance_m), in_accuracy: distance(visit.check_in.accuracy_m), out_distance: distance(out.distance_m), out_accuracy: distance(out.accuracy_m) })
    : t('queue.diagram_open', { radius: distance(site.radius_m), in_distance: distance(visit.check_in.distance_m), in_accuracy: distance(visit.check_in.accuracy_m) });
  return h('figure', { class: 'vq-map' },
    svg('svg', { viewBox: `0 0 ${size} ${size}`, role: 'img', 'aria-label': label, class: 'vq-map-svg' }, nodes),
    h('figcaption', { class: 'vq-legend' },
      h('span', { class: 'vq-key vq-key-site' }, t('queue.legend.site')),
      h('span', { class: 'vq-key vq-key-in' }, t('queue.legend.in')),
      out ? h('span', { class: 'vq-key vq-key-out' }, t('queue.legend.out')) : null,
      fixes.some((f) => f.flagged) ? h('span', { class: 'vq-key vq-key-flagged' }, t('queue.legend.flagged')) : null));
}

function photoSection(visit) {
  const photos = visit.photos || [];
  return h('section', { class: 'vq-section' },
    h('h3', {}, t('queue.photos')),
    photos.length
      ? h('ul', { class: 'photos' }, photos.map((p) => {
        const kind = t(`queue.kind.${p.kind}`);
        return h('li', { class: 'photo' },
          h('a', { href: `/api/v1/photos/${p.id}/image`, target: '_blank', rel: 'noopener', 'aria-label': t('queue.photo_open', { kind }) },
            h('img', { src: p.thumb_url || `/api/v1/photos/${p.id}/thumb`, alt: t('queue.photo_alt', { kind, when: dateTime(p.created_at) }), loading: 'lazy', width: 96, height: 96 })),
          h('span', {}, kind),
          (p.flags || []).map((f) => chip(flagShort(f), 'bad')));
      }))
      : h('p', { class: 'meta' }, t('queue.no_photos')));
}

function historySection(visit) {
  const history = visit.engineer_history;
  if (!history) return null;
  const recent = history.recent_flagged || [];
  return h('section', { class: 'vq-section' },
    h('h3', {}, t('queue.history')),
    h('p', {}, t('queue.history_line', { days: history.days, visits: history.visits, flagged: history.flagged, rejected: history.rejected, disputed: history.disputed })),
    recent.length
      ? h('ul', { class: 'list vq-history' }, recent.map((v) => h('li', { class: 'list-row' },
        h('div', { class: 'grow' },
          h('div', {}, dateTime(v.client_time), v.id === visit.id ? h('span', { class: 'meta' }, ` (${t('queue.this_visit')})`) : null),
          h('div', { class: 'meta' }, `${t('sup.job', { id: v.job_id })} · ${(v.flags || []).map(flagShort).join(', ')}`)),
        chip(t(`queue.status.${v.status}`), STATUS_TONE[v.status] || ''))))
      : h('p', { class: 'meta' }, t('queue.history_none')));
}

