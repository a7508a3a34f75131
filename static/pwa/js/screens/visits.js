// #/visits[/STATUS]: the engineer's own visits, newest first, with their status and the
// supervisor's decision; a rejected visit can be disputed once, with a note, through the
// outbox (offline like every action). GET /visits as an engineer is scoped to their visits.
import { t, register, dateTime, time, problemText } from '../i18n.js';
import * as api from '../api.js';
import * as queue from '../outbox-client.js';
import { h, clear, chip, field, empty, staleNote, withStates, toast } from '../ui.js';
import { flagText, isDecided, fixOfFlag } from '../flags.js';
import { visitTone, word } from '../fieldwork.js';

register({
  en: {
    'visits.title': 'My visits', 'visits.all': 'All', 'visits.filter': 'Show visits',
    'visits.none': 'No visits yet.', 'visits.none_status': 'No visits with this status.',
    'visits.row': '{start} – {end}', 'visits.open': 'not checked out',
    'visits.decision_note': 'Supervisor’s note: {note}', 'visits.dispute': 'Dispute',
    'visits.dispute_note': 'Why the visit should be accepted', 'visits.dispute_hint': 'Say what happened; your supervisor decides once more, and that decision is final.',
    'visits.dispute_send': 'Send the dispute', 'visits.dispute_cancel': 'Cancel', 'visits.dispute_need_note': 'Write why the visit should be accepted.',
    'visits.dispute_sent': 'Dispute sent.', 'visits.dispute_waiting': 'Dispute saved on this phone: waiting to send.',
    'visits.your_dispute': 'Your dispute: {note}', 'visits.waiting_final': 'Waiting for the final decision.',
    'visits.final_approved': 'Final decision: approved.', 'visits.final_rejected': 'Final decision: rejected.',
    'visits.under_review': 'Your supervisor will review this visit.', 'visits.more': 'Show more',
  },
  'zh-CN': {
    'visits.title': '我的上门记录', 'visits.all': '全部', 'visits.filter': '显示上门记录',
    'visits.none': '还没有上门记录。', 'visits.none_status': '没有此状态的上门记录。',
    'visits.row': '{start} – {end}', 'visits.open': '未签退',
    'visits.decision_note': '主管意见：{note}', 'visits.dispute': '申诉',
    'visits.dispute_note': '此次上门应被认可的理由', 'visits.dispute_hint': '请说明情况；主管将再次审核，该决定为最终决定。',
    'visits.dispute_send': '提交申诉', 'visits.dispute_cancel': '取消', 'visits.dispute_need_note': '请填写此次上门应被认可的理由。',
    'visits.dispute_sent': '申诉已提交。', 'visits.dispute_waiting': '申诉已保存在手机上：等待发送。',
    'visits.your_dispute': '我的申诉：{note}', 'visits.waiting_final': '等待最终决定。',
    'visits.final_approved': '最终决定：批准。', 'visits.final_rejected': '最终决定：驳回。',
    'visits.under_review': '主管将审核此次上门。', 'visits.more': '显示更多',
  },
});

export const roles = ['engineer'];
export const title = 'visits.title';

const STATUSES = ['rejected', 'flagged', 'approved', 'verified'];
// "Rejected" lists the disputed ones too: a visit disputed from this list stays in it,
// with its dispute and then the final decision.
const QUERY = { rejected: 'rejected,disputed' };
const PAGE = 30;

export default async function render(ctx) {
  const status = STATUSES.includes(ctx.params[0]) ? ctx.params[0] : null;
  const filters = h('nav', { class: 'filter-chips', 'aria-label': t('visits.filter') },
    [null, ...STATUSES].map((s) => h('a', {
      class: ['chip', 'chip-link', s === status && 'chip-current'], href: s ? `#/visits/${s}` : '#/visits',
      'aria-current': s === status ? 'page' : null,
    }, s ? word('visit', s) : t('visits.all'))));
  const body = h('div', {});
  clear(ctx.main, filters, body);
  let perPage = PAGE;
  const openForms = new Set(); // visits whose dispute form is open: kept open across redraws

  const draw = () => withStates(body, async () => {
    const r = await api.load('visits', { engineer_id: ctx.user.id, status: status ? QUERY[status] || status : undefined, per_page: perPage });
    const waiting = queue.pending((e) => e.kind === 'dispute');
    const items = r.data.items;
    if (!items.length) return [staleNote(r.stale), empty(t(status ? 'visits.none_status' : 'visits.none'))];
    return [
      staleNote(r.stale),
      h('ul', { class: 'list' }, items.map((v) => visitCard(v, waiting.find((e) => e.visit_id === v.id)))),
      r.data.total > items.length ? h('button', { type: 'button', class: 'btn btn-block', onclick: () => { perPage += PAGE; draw(); } }, t('visits.more')) : null,
    ];
  });

  function visitCard(v, pendingDispute) {
    const decided = isDecided(v);
    const shownStatus = pendingDispute && pendingDispute.state !== 'refused' ? 'disputed' : v.status;
    const flags = v.flags.map((f) => h('li', {}, flagText(f, fixOfFlag(v, f), { decided, checkedOut: Boolean(v.check_out) })));
    let outcome = null;
    if (pendingDispute) {
      outcome = pendingDispute.state === 'refused'
        ? h('p', { class: 'field-error', role: 'alert' }, problemText(pendingDispute.error))
        : [h('p', {}, t('visits.your_dispute', { note: pendingDispute.json.note })), chip(t('outbox.waiting'), 'warn')];
    } else if (v.disputed_at) {
      outcome = [h('p', {}, t('visits.your_dispute', { note: v.dispute_note })),
        v.status === 'disputed' ? h('p', { class: 'banner banner-waiting' }, t('visits.waiting_final'))
          : h('p', {}, h('strong', {}, t(v.status === 'approved' ? 'visits.final_approved' : 'visits.final_rejected')))];
    } else if (v.status === 'flagged') {
      outcome = h('p', { class: 'meta' }, t('visits.under_review'));
    }
    const canDispute = v.status === 'rejected' && !v.disputed_at && !pendingDispute;
    return h('li', { class: ['card', `visit-${shownStatus}`], 'data-visit': v.id },
      h('div', { class: 'card-row' },
        h('a', { class: 'card-title grow', href: `#/job/${v.job_id}` }, v.job ? v.job.title : `#${v.job_id}`),
        chip(word('visit', shownStatus), visitTone(shownStatus))),
      v.site ? h('div', { class: 'meta' }, v.site.name) : null,
      h('div', {}, t('visits.row', { start: dateTime(v.check_in.client_time), end: v.check_out ? time(v.check_out.client_time) : t('visits.open') })),
      flags.length ? h('ul', { class: 'flags' }, flags) : null,
      v.decision_note ? h('p', { class: 'decision-note' }, t('visits.decision_note', { note: v.decision_note })) : null,
      outcome,
      canDispute ? disputeBlock(v) : null);
  }

  function disputeBlock(v) {
    const box = h('div', { class: 'dispute' });
    const showButton = () => clear(box, h('button', {
      type: 'button', class: 'btn btn-primary btn-block',
      onclick: () => { openForms.add(v.id); showForm(); },
    }, t('visits.dispute')));
    const showForm = () => {
      const note = h('textarea', { class: 'textarea', name: 'note', maxlength: 2000, required: true });
      const message = h('p', { class: 'field-error', role: 'alert', hidden: true });
      const send = h('button', { type: 'submit', class: 'btn btn-primary' }, t('visits.dispute_send'));
      const form = h('form', { class: 'form', novalidate: true, onsubmit: async (ev) => {
        ev.preventDefault();
        const text = note.value.trim();
        if (!text) { message.textContent = t('visits.dispute_need_note'); message.hidden = false; note.focus(); return; }
        send.disabled = true; // once: disabled from the first tap until the server or the outbox has it
        try {
          const r = await queue.submit({ kind: 'dispute', path: `visits/${v.id}/dispute`, visit_id: v.id,
            job_id: v.job_id, job_title: v.job ? v.job.title : undefined, json: { note: text } });
          toast(r.status === 'sent' ? t('visits.dispute_sent') : t('visits.dispute_waiting'), r.status === 'sent' ? 'ok' : '');
        } catch (error) {
          message.textContent = problemText(error);
          message.hidden = false;
        }
        openForms.delete(v.id);
        if (ctx.isCurrent()) draw();
      } }, field(t('visits.dispute_note'), note, { hint: t('visits.dispute_hint') }), message,
      h('div', { class: 'btn-row' }, send,
        h('button', { type: 'button', class: 'btn', onclick: () => { openForms.delete(v.id); showButton(); } }, t('visits.dispute_cancel'))));
      clear(box, form);
      note.focus();
    };
    if (openForms.has(v.id)) showForm(); else showButton();
    return box;
  }

  await draw();
  // Redraw when a dispute waiting on the phone is sent or refused.
  let last = queue.current().waiting + queue.current().refused;
  let later = null;
  ctx.onCleanup(() => clearTimeout(later));
  ctx.onCleanup(queue.subscribe((state) => {
    const now = state.waiting + state.refused;
    if (now === last || !ctx.isCurrent()) return;
    last = now;
    clearTimeout(later);
    later = setTimeout(() => { if (ctx.isCurrent() && !openForms.size) draw(); }, 500);
  }));
}
