// #/me: profile (with the phone number the supervisor calls, changed here, offline too),
// language, waiting actions, sign out; for engineers, their monthly reviews with the action
// items (acknowledge the review, mark items done).
import { t, register, date, dateTime, problemText } from '../i18n.js';
import * as api from '../api.js';
import * as queue from '../outbox-client.js';
import { h, clear, button, chip, field, empty, staleNote, withStates, toast, showFieldErrors, languageSwitch } from '../ui.js';
import { metricName } from '../metrics.js';

register({
  en: {
    'me.title': 'Me', 'me.profile': 'Profile', 'me.email': 'Email', 'me.role': 'Role', 'me.level': 'Level', 'me.work_type': 'Work type',
    'me.language': 'Language', 'me.sign_out': 'Sign out', 'me.outbox': 'Actions waiting on this phone',
    'me.outbox_n': { one: '{n} waiting', other: '{n} waiting' },
    'me.sign_out_waiting': 'Some actions have not been sent yet; they stay on this phone and are sent after you sign in again.',
    'role.engineer': 'Engineer', 'role.supervisor': 'Supervisor', 'role.admin': 'Administrator',
    'level.junior': 'Junior', 'level.mid': 'Mid-level', 'level.senior': 'Senior', 'work.field': 'Field', 'work.remote': 'Remote',
    'me.reviews': 'My reviews', 'me.no_reviews': 'No review yet.', 'me.review_of': 'Review of {period}',
    'me.summary': 'Summary', 'me.strengths': 'Strengths', 'me.improvements': 'To improve', 'me.next_targets': 'Next month’s targets',
    'me.items': 'Action items', 'me.due': 'due {date}', 'me.acknowledge': 'Acknowledge the review',
    'me.acknowledged': 'Acknowledged {when}', 'me.ack_sent': 'Review acknowledged.', 'me.item_saved': 'Saved.',
    'me.phone': 'Phone', 'me.phone_hint': 'Where your supervisor calls you. Leave it empty to remove it.',
    'me.phone_save': 'Save the phone number', 'me.phone_saved': 'Phone number saved.',
    'me.phone_action': 'Change my phone number',
    'me.phone_invalid': 'Give the number in E.164 (+862161234567) or as local digits (021-6123 4567).',
    'me.phone_long': 'At most 32 characters.',
  },
  'zh-CN': {
    'me.title': '我的', 'me.profile': '个人资料', 'me.email': '邮箱', 'me.role': '角色', 'me.level': '级别', 'me.work_type': '工作类型',
    'me.language': '语言', 'me.sign_out': '退出登录', 'me.outbox': '手机上等待发送的操作',
    'me.outbox_n': { other: '{n} 项等待中' },
    'me.sign_out_waiting': '部分操作尚未发送；它们会保留在手机上，重新登录后发送。',
    'role.engineer': '工程师', 'role.supervisor': '主管', 'role.admin': '管理员',
    'level.junior': '初级', 'level.mid': '中级', 'level.senior': '高级', 'work.field': '现场', 'work.remote': '远程',
    'me.reviews': '我的绩效面谈', 'me.no_reviews': '暂无面谈记录。', 'me.review_of': '{period} 面谈',
    'me.summary': '总结', 'me.strengths': '优点', 'me.improvements': '待改进', 'me.next_targets': '下月目标',
    'me.items': '行动项', 'me.due': '截止 {date}', 'me.acknowledge': '确认面谈',
    'me.acknowledged': '已于 {when} 确认', 'me.ack_sent': '已确认面谈。', 'me.item_saved': '已保存。',
    'me.phone': '电话', 'me.phone_hint': '主管联系您的号码。留空即删除。',
    'me.phone_save': '保存电话号码', 'me.phone_saved': '电话号码已保存。',
    'me.phone_action': '修改我的电话号码',
    'me.phone_invalid': '请按 E.164 格式（+862161234567）或本地号码（021-6123 4567）填写。',
    'me.phone_long': '最多 32 个字符。',
  },
});

export const title = 'me.title';

// The server's rule for a phone number (PhoneNumber, app/api/common.py): E.164, or local
// digits in groups separated by one space or hyphen; at most 32 characters; empty clears it.
const PHONE = /^(?:\+[1-9][0-9]{1,14}|[0-9]+(?:[ -][0-9]+)*)$/;
const PHONE_MAX = 32;

function phoneError(text) {
  if (text.length > PHONE_MAX) return t('me.phone_long');
  return text && !PHONE.test(text) ? t('me.phone_invalid') : null;
}

// The phone number, changed by the user for themselves (PATCH /users/{self}) through the
// outbox: offline it waits on the phone, shown as waiting, and is sent once when online.
function phoneForm(ctx) {
  const slot = h('div', { class: 'me-phone-slot' });
  let shownKey = null; // the waiting change drawn, to redraw when it is sent or refused
  let saving = false; // this form's own save under way: it draws when done
  const waitingChange = () => queue.pending((e) => e.kind === 'phone' && e.state !== 'refused').pop() || null;
  function draw() {
    const u = ctx.currentUser();
    const waiting = waitingChange();
    shownKey = waiting ? waiting.key : null;
    const input = h('input', {
      class: 'input', type: 'tel', name: 'phone', autocomplete: 'tel', inputmode: 'tel', maxlength: 64,
      value: (waiting ? waiting.json.phone : u.phone) || '',
    });
    const save = h('button', { type: 'submit', class: 'btn btn-primary' }, t('me.phone_save'));
    const form = h('form', {
      class: 'form me-phone', novalidate: true,
      onsubmit: async (ev) => {
        ev.preventDefault();
        const text = input.value.trim();
        const error = phoneError(text);
        showFieldErrors(form, error ? { phone: [error] } : {});
        if (error) return;
        save.disabled = true;
        saving = true;
        try {
          const r = await queue.submit({ kind: 'phone', method: 'PATCH', path: `users/${u.id}`,
            json: { phone: text || null }, label: t('me.phone_action') });
          if (r.status === 'sent') {
            ctx.updateUser({ phone: r.body ? r.body.phone : text || null });
            toast(t('me.phone_saved'), 'ok');
          } else toast(t('outbox.saved_offline'));
          draw();
        } catch (failure) {
          save.disabled = false;
          // The server's words are English: its refusal of the number is said in ours.
          if (failure.errors && failure.errors.phone) showFieldErrors(form, { phone: [t('me.phone_invalid')] });
          else toast(problemText(failure), 'bad', 6000);
        } finally {
          saving = false;
        }
      },
    }, field(t('me.phone'), input, { hint: t('me.phone_hint') }),
    h('div', { class: 'btn-row' }, save, waiting ? chip(t('outbox.waiting'), 'warn') : null));
    clear(slot, form);
  }
  // On every change of the outbox. A change waits that is not drawn (the outbox was read
  // after the form was, or the change was made in another tab): drawn with its mark. The
  // drawn one was sent (or refused) later: the answer becomes the user's number, the mark goes.
  async function sync() {
    if (saving) return;
    const waiting = waitingChange();
    if (waiting) {
      if (waiting.key !== shownKey) draw();
      return;
    }
    if (!shownKey) return;
    const key = shownKey;
    const body = await queue.result(key);
    if (key !== shownKey || saving) return;
    if (body) ctx.updateUser({ phone: body.phone });
    draw();
  }
  draw();
  return { el: slot, sync };
}

function reviewCard(review, redraw) {
  const items = review.action_items.map((item) => {
    const pending = queue.pending((e) => e.kind === 'item' && e.item_id === item.id && e.state !== 'refused');
    const done = pending.length ? pending[pending.length - 1].json.done : item.done;
    const box = h('input', { type: 'checkbox', checked: done, onchange: async (ev) => {
      const value = ev.currentTarget.checked;
      try {
        const r = await queue.submit({ kind: 'item', item_id: item.id, method: 'PATCH',
          path: `reviews/${review.id}/action-items/${item.id}`, json: { done: value } });
        toast(r.status === 'sent' ? t('me.item_saved') : t('outbox.saved_offline'), r.status === 'sent' ? 'ok' : '');
      } catch (error) { toast(problemText(error), 'bad', 6000); }
      redraw();
    } });
    return h('li', { class: 'list-row' }, h('label', { class: 'check grow' }, box, h('span', { class: 'grow' }, item.title, ' ',
      h('span', { class: 'meta' }, t('me.due', { date: date(`${item.due_date}T12:00:00`) }))),
    pending.length ? chip(t('outbox.waiting'), 'warn') : null));
  });
  const ackPending = queue.pending((e) => e.kind === 'ack' && e.review_id === review.id && e.state !== 'refused').length;
  const targets = Object.entries(review.next_targets || {});
  return h('li', { class: 'card' },
    h('h3', {}, t('me.review_of', { period: review.period })),
    h('dl', { class: 'kv' },
      h('dt', {}, t('me.summary')), h('dd', {}, review.summary),
      review.strengths ? [h('dt', {}, t('me.strengths')), h('dd', {}, review.strengths)] : null,
      review.improvements ? [h('dt', {}, t('me.improvements')), h('dd', {}, review.improvements)] : null,
      targets.length ? [h('dt', {}, t('me.next_targets')), h('dd', { class: 'chips' }, targets.map(([k, v]) => chip(`${metricName(k)}: ${v}`, 'info')))] : null),
    items.length ? [h('h4', {}, t('me.items')), h('ul', { class: 'list' }, items)] : null,
    review.acknowledged_at ? h('p', { class: 'meta' }, t('me.acknowledged', { when: dateTime(review.acknowledged_at) }))
      : ackPending ? chip(t('outbox.waiting'), 'warn')
        : button(t('me.acknowledge'), async (ev) => {
          ev.currentTarget.disabled = true;
          try {
            const r = await queue.submit({ kind: 'ack', review_id: review.id, path: `reviews/${review.id}/acknowledge`, json: {} });
            toast(r.status === 'sent' ? t('me.ack_sent') : t('outbox.saved_offline'), r.status === 'sent' ? 'ok' : '');
          } catch (error) { toast(problemText(error), 'bad', 6000); }
          redraw();
        }, { kind: 'primary block' }));
}

export default async function render(ctx) {
  const u = ctx.user;
  const word = (key) => { const s = t(key); return s === key ? key.split('.').pop() : s; };
  const outbox = h('a', { class: 'btn btn-block', href: '#/outbox' });
  const phone = phoneForm(ctx);
  ctx.onCleanup(queue.subscribe((s) => {
    outbox.textContent = `${t('me.outbox')} · ${t('me.outbox_n', { n: s.waiting + s.refused })}`;
    phone.sync();
  }));
  const reviews = h('section', { class: 'section', 'aria-labelledby': 'reviews-h' });
  const drawReviews = () => withStates(reviews, async () => {
    if (u.role !== 'engineer') return [];
    const r = await api.load('reviews', { engineer_id: u.id, per_page: 24 });
    return [staleNote(r.stale), h('h2', { id: 'reviews-h' }, t('me.reviews')),
      r.data.items.length ? h('ul', { class: 'list' }, r.data.items.map((rv) => reviewCard(rv, drawReviews))) : empty(t('me.no_reviews'))];
  });
  clear(ctx.main, h('div', { class: 'cols-2' },
    h('div', {},
      h('section', { class: 'card', 'aria-labelledby': 'profile-h' },
        h('h2', { id: 'profile-h' }, u.name),
        h('dl', { class: 'kv' },
          h('dt', {}, t('me.email')), h('dd', {}, u.email),
          h('dt', {}, t('me.role')), h('dd', {}, word(`role.${u.role}`)),
          u.level ? [h('dt', {}, t('me.level')), h('dd', {}, word(`level.${u.level}`))] : null,
          u.work_type ? [h('dt', {}, t('me.work_type')), h('dd', {}, word(`work.${u.work_type}`))] : null),
        phone.el),
      h('section', { class: 'card', 'aria-labelledby': 'lang-h' }, h('h2', { id: 'lang-h' }, t('me.language')), languageSwitch()),
      outbox,
      button(t('me.sign_out'), async () => {
        if (queue.current().waiting) toast(t('me.sign_out_waiting'), '', 6000);
        await ctx.signOut();
      }, { kind: 'danger block' })),
    reviews));
  await drawReviews();
}
