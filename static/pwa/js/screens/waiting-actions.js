// #/outbox: the actions kept on this phone, waiting or refused (with the server's reason).
import { t, register, dateTime, problemText } from '../i18n.js';
import * as queue from '../outbox-client.js';
import { h, clear, button, chip, empty } from '../ui.js';

register({
  en: { 'outbox.title': 'Waiting actions', 'outbox.made': 'Made {when}', 'outbox.job': 'Job #{id}', 'outbox.attempts': 'Tried {n} times' },
  'zh-CN': { 'outbox.title': '等待发送的操作', 'outbox.made': '操作时间 {when}', 'outbox.job': '工单 #{id}', 'outbox.attempts': '已尝试 {n} 次' },
});

export const title = 'outbox.title';

export function describe(entry) {
  const kinds = ['checkin', 'checkout', 'contact', 'photo', 'close', 'case', 'ack', 'item', 'dispute'];
  return entry.label || t(kinds.includes(entry.kind) ? `action.${entry.kind}` : 'action.other');
}

export default function render(ctx) {
  const list = h('ul', { class: 'list' });
  const body = h('div', {});
  const draw = (state) => {
    if (!ctx.isCurrent()) return;
    if (!state.entries.length) { clear(body, empty(t('outbox.none'))); return; }
    clear(list, state.entries.map((e) => {
      const refused = e.state === 'refused';
      const reason = refused ? (e.error.code === 'DEPENDENCY_REFUSED' ? t('outbox.dependency') : problemText(e.error)) : null;
      return h('li', { class: 'list-row list-row-wrap' },
        h('div', { class: 'grow' },
          h('div', { class: 'card-row' }, h('strong', {}, describe(e)),
            refused ? chip(t('outbox.refused'), 'bad') : chip(state.sending === e.key ? t('outbox.sending') : t('outbox.waiting'), 'warn')),
          h('div', { class: 'meta' }, e.job_id ? (e.job_title || t('outbox.job', { id: e.job_id })) + ' · ' : '',
            t('outbox.made', { when: dateTime(e.client_time || e.created_at) })),
          reason ? h('p', { class: 'field-error' }, reason) : null),
        refused ? h('div', { class: 'btn-row' },
          button(t('common.retry'), () => queue.retry(e.seq)),
          button(t('common.dismiss'), () => queue.dismiss(e.seq), { kind: 'danger' })) : null);
    }));
    clear(body, list);
  };
  clear(ctx.main, body);
  ctx.onCleanup(queue.subscribe(draw));
}
