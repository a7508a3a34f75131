// #/alerts[/dismissed]: early warnings on the team (kpi.md), newest first; dismiss one with
// one tap (through the offline outbox).
import { t, register, dateTime, problemText } from '../i18n.js';
import * as api from '../api.js';
import * as queue from '../queue.js';
import { h, clear, button, chip, empty, staleNote, withStates, toast } from '../ui.js';
import { useStyles, teamById } from './supervisor/shared.js';

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
    const onDismissed = () => { open -= 1; counter.textContent = t('alerts.count', { n: open }); };
    return [staleNote(stale), counter,
      h('ul', { class: 'list wide-list' }, data.items.map((a) => alertRow(a, team, waiting.has(a.id), onDismissed)))];
  });
}

function whatText(alert, engineer) {
  const vars = { job: alert.job_id, terms: (alert.matched || []).join(', '), engineer };
  if (alert.kind === 'KEYWORD' && !alert.job_id) return t('alerts.what.KEYWORD_nojob', vars);
  return t(`alerts.what.${alert.kind}`, vars);
}

function alertRow(alert, team, isWaiting, onDismissed) {
  const person = team[alert.engineer_id];
  const engineer = person ? person.name : (alert.engineer_id ? `#${alert.engineer_id}` : '—');
  const what = whatText(alert, engineer);
  const status = h('div', { class: 'alert-status', role: 'status' });
  const error = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const dismiss = alert.dismissed_at ? null : button(t('alerts.dismiss'), () => act(), { 'aria-label': t('alerts.dismiss_label', { what }) });
  const row = h('li', { class: ['card', 'alert-card', `alert-${(TONE[alert.kind] || 'info')}`] },
    h('div', { class: 'card-row' },
      chip(t(`alerts.kind.${alert.kind}`), TONE[alert.kind]),
      h('strong', { class: 'grow' }, what)),
    h('p', { class: 'meta' }, t('alerts.raised', { engineer, when: dateTime(alert.created_at) })),
    alert.detail ? h('p', { class: 'alert-detail' }, alert.detail) : null,
    (alert.matched || []).length ? h('ul', { class: 'chips' }, alert.matched.map((m) => h('li', {}, chip(m, 'warn')))) : null,
    alert.dismissed_at ? h('p', { class: 'meta' }, t('alerts.dismissed_at', { when: dateTime(alert.dismissed_at) })) : null,
    error, status, dismiss ? h('div', { class: 'btn-row' }, dismiss) : null);
  if (isWaiting) showWaiting();

  function showWaiting() {
    if (dismiss) dismiss.hidden = true;
    clear(status, chip(t('sup.waiting'), 'warn'), ' ', t('alerts.queued'));
  }
  async function act() {
    dismiss.disabled = true;
    error.hidden = true;
    try {
      const r = await queue.submit({
        kind: 'dismiss-alert', method: 'POST', path: `alerts/${alert.id}/dismiss`,
        label: t('alerts.action', { id: alert.id }), alert_id: alert.id, job_id: alert.job_id || undefined,
      });
      if (r.status === 'sent') {
        toast(t('alerts.done'), 'ok');
        onDismissed();
        row.remove();
      } else {
        showWaiting();
      }
    } catch (e) {
      dismiss.disabled = false;
      error.textContent = problemText(e);
      error.hidden = false;
    }
  }
  return row;
}
