// /f/<token>: the customer's rating page. Public (no account): it shows what is rated (job,
// site, engineer's name), takes a score from 0 to 10 and a comment, and says clearly when
// the link was used already, has expired, or is unknown. In the browser's language.
import { t, register, date } from '../i18n.js';
import * as api from '../api.js';
import { h, clear, button, field, loading, useStyles, languageSwitch } from '../ui.js';

register({
  en: {
    'feedback.title': 'Rate your service',
    'feedback.intro': 'Thank you for letting us work for you. Your rating goes straight to the service team.',
    'feedback.job': 'Job', 'feedback.site': 'Site', 'feedback.engineer': 'Engineer',
    'feedback.question': 'How likely are you to recommend our service to a friend or colleague?',
    'feedback.scale': '0 = not at all likely, 10 = extremely likely',
    'feedback.low': 'Not at all likely', 'feedback.high': 'Extremely likely',
    'feedback.comment': 'Anything you would like to tell us? (optional)',
    'feedback.send': 'Send my rating', 'feedback.sending': 'Sending…',
    'feedback.choose': 'Choose a score from 0 to 10.',
    'feedback.valid_until': 'This link can be used once, until {when}.',
    'feedback.thanks_title': 'Thank you!',
    'feedback.thanks': 'Your rating has been received. It helps us serve you better.',
    'feedback.used_title': 'Already rated',
    'feedback.used': 'This link has already been used to rate the service. Thank you for your feedback.',
    'feedback.expired_title': 'Link expired',
    'feedback.expired': 'This rating link has expired. Links are valid for 14 days; ask your service contact for a new one if you would still like to rate the visit.',
    'feedback.unknown_title': 'Link not valid',
    'feedback.unknown': 'This rating link is not valid. Please check that the whole link was copied.',
    'feedback.offline_title': 'No connection',
    'feedback.offline': 'The page could not reach the server. Check your connection and try again.',
    'feedback.busy_title': 'Please wait',
    'feedback.busy': 'Too many attempts in a short time. Wait a minute and try again.',
    'feedback.error_title': 'Something went wrong',
    'feedback.staff_title': 'This link is for the customer',
    'feedback.staff': 'This phone is signed in to FieldProof, so it cannot rate the visit. Let the customer scan the code with their own phone.',
  },
  'zh-CN': {
    'feedback.title': '服务评价',
    'feedback.intro': '感谢您选择我们的服务。您的评价将直接送达服务团队。',
    'feedback.job': '工单', 'feedback.site': '地点', 'feedback.engineer': '工程师',
    'feedback.question': '您有多大可能向朋友或同事推荐我们的服务？',
    'feedback.scale': '0 = 完全不可能，10 = 非常可能',
    'feedback.low': '完全不可能', 'feedback.high': '非常可能',
    'feedback.comment': '还有什么想告诉我们的吗？（可选）',
    'feedback.send': '提交评价', 'feedback.sending': '提交中…',
    'feedback.choose': '请选择 0 到 10 的分数。',
    'feedback.valid_until': '此链接仅可使用一次，有效期至 {when}。',
    'feedback.thanks_title': '谢谢！',
    'feedback.thanks': '我们已收到您的评价，这将帮助我们更好地为您服务。',
    'feedback.used_title': '已评价',
    'feedback.used': '此链接已用于评价本次服务。感谢您的反馈。',
    'feedback.expired_title': '链接已过期',
    'feedback.expired': '此评价链接已过期。链接有效期为 14 天；如仍想评价，请联系服务人员获取新链接。',
    'feedback.unknown_title': '链接无效',
    'feedback.unknown': '此评价链接无效。请检查链接是否完整复制。',
    'feedback.offline_title': '无法连接',
    'feedback.offline': '无法连接到服务器。请检查网络后重试。',
    'feedback.busy_title': '请稍候',
    'feedback.busy': '短时间内尝试次数过多，请稍等一分钟再试。',
    'feedback.error_title': '出错了',
    'feedback.staff_title': '此链接供客户使用',
    'feedback.staff': '此手机已登录 FieldProof，不能评价本次服务。请让客户用自己的手机扫码评价。',
  },
});

export const title = 'feedback.title';

// Tokens rated from this page since it was loaded (a new visit to the link says "used").
const ratedHere = new Set();

export default async function render(ctx) {
  const token = ctx.params[0] || '';
  await useStyles('feedback');
  ctx.setTitle(t('feedback.title'));
  const page = h('section', { class: 'fb-page' });
  clear(ctx.main, page);
  clear(page, loading());
  let link;
  try {
    link = await api.get(`feedback/${encodeURIComponent(token)}`);
  } catch (error) {
    // Rated from this page a moment ago, and drawn again for a language switch: still "thank you".
    const state = stateOf(error) === 'used' && ratedHere.has(token) ? 'thanks' : stateOf(error);
    showState(ctx, page, state, () => render(ctx));
    return;
  }
  clear(page, ratingForm(ctx, page, token, link));
}

// The page's state for a failed request: used, expired, unknown, offline, busy or error.
function stateOf(error) {
  if (error && error.network) return 'offline';
  if (error.code === 'LINK_USED') return 'used';
  if (error.code === 'LINK_EXPIRED') return 'expired';
  if (error.code === 'RATING_BY_STAFF') return 'staff';
  if (error.status === 404) return 'unknown';
  if (error.status === 429) return 'busy';
  return 'error';
}

function showState(ctx, page, state, retry) {
  const tone = { thanks: 'ok', used: 'ok', expired: 'warn', unknown: 'bad', offline: 'warn', busy: 'warn', staff: 'warn', error: 'bad' }[state];
  const text = state === 'error' ? t('common.error') : t(`feedback.${state}`);
  const heading = h('h2', { tabindex: '-1' }, t(`feedback.${state}_title`));
  clear(page,
    h('div', { class: ['card', `card-${tone}`, 'fb-state', `fb-state-${state}`], role: state === 'thanks' ? 'status' : 'alert' },
      h('p', { class: 'fb-icon', 'aria-hidden': 'true' }, { ok: '✓', warn: '!', bad: '×' }[tone]),
      heading, h('p', {}, text),
      ['offline', 'busy', 'error'].includes(state) && retry ? button(t('common.retry'), retry, { kind: 'primary' }) : null),
    footer());
  ctx.setTitle(t(`feedback.${state}_title`));
  heading.focus();
}

function footer() {
  return h('div', { class: 'fb-footer' }, languageSwitch());
}

function ratingForm(ctx, page, token, link) {
  const path = `feedback/${encodeURIComponent(token)}`;
  const message = h('p', { class: 'field-error', role: 'alert', id: 'fb-score-error', hidden: true });
  const scores = h('div', { class: 'fb-scores' });
  for (let n = 0; n <= 10; n += 1) {
    // The radio covers its label's box (invisibly), so a tap anywhere on the number checks it.
    scores.append(h('label', { class: 'fb-score' },
      h('input', { type: 'radio', name: 'score', value: String(n), class: 'fb-radio', required: true, onchange: () => { message.hidden = true; } }),
      h('span', { class: 'fb-score-n' }, String(n))));
  }
  const comment = h('textarea', { class: 'textarea', name: 'comment', maxlength: 2000, rows: 4 });
  const send = h('button', { type: 'submit', class: 'btn btn-primary btn-big btn-block' }, t('feedback.send'));
  const what = [
    [t('feedback.job'), link.job && link.job.title],
    [t('feedback.site'), link.site && [link.site.name, link.site.address].filter(Boolean).join(' · ')],
    [t('feedback.engineer'), link.engineer && link.engineer.name],
  ].filter(([, v]) => v);

  const form = h('form', {
    class: 'form', novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      const chosen = form.querySelector('input[name=score]:checked');
      if (!chosen) {
        message.textContent = t('feedback.choose');
        message.hidden = false;
        form.querySelector('input[name=score]').focus();
        return;
      }
      const body = { score: Number(chosen.value) };
      if (comment.value.trim()) body.comment = comment.value.trim();
      send.disabled = true;
      send.textContent = t('feedback.sending');
      try {
        await api.post(path, body);
        ratedHere.add(token);
        showState(ctx, page, 'thanks');
      } catch (error) {
        const state = stateOf(error);
        if (state === 'offline' || state === 'busy' || (state === 'error' && error.status === 422)) {
          // Keep what the customer chose and wrote: say why, let them send again.
          message.textContent = error.status === 422 ? (error.detail || t('common.error')) : t(`feedback.${state}`);
          message.hidden = false;
          send.disabled = false;
          send.textContent = t('feedback.send');
          return;
        }
        showState(ctx, page, state, () => render(ctx));
      }
    },
  },
  h('fieldset', { class: 'fb-fieldset', 'aria-describedby': 'fb-scale fb-score-error' },
    h('legend', { class: 'fb-question' }, t('feedback.question')),
    h('p', { class: 'meta', id: 'fb-scale' }, t('feedback.scale')),
    scores,
    h('div', { class: 'fb-ends', 'aria-hidden': 'true' }, h('span', {}, `0 · ${t('feedback.low')}`), h('span', {}, `${t('feedback.high')} · 10`)),
    message),
  field(t('feedback.comment'), comment),
  send);

  return [
    h('p', { class: 'brand' }, t('app.name')),
    h('p', {}, t('feedback.intro')),
    h('dl', { class: 'kv fb-what' }, what.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    form,
    link.expires_at ? h('p', { class: 'meta' }, t('feedback.valid_until', { when: date(link.expires_at) })) : null,
    footer(),
  ];
}
