// #/knowledge: search approved cases (Chinese and English), my submissions and their review;
// #/knowledge/new[/JOB_ID]: submit a case or document (from a job: linked to it).
import { t, register, date, problemText } from '../i18n.js';
import * as api from '../api.js';
import * as queue from '../outbox-client.js';
import { h, clear, button, chip, field, empty, staleNote, withStates, toast, showFieldErrors, loading, errorState } from '../ui.js';

register({
  en: {
    'kb.title': 'Knowledge', 'kb.search': 'Search cases', 'kb.search_button': 'Search', 'kb.search_hint': 'Words in English or Chinese, e.g. 漏水 or leak',
    'kb.results': { one: '{n} case found', other: '{n} cases found' }, 'kb.no_results': 'No approved case matches.', 'kb.no_results_for': 'No approved case matches “{q}”.',
    'kb.latest': 'Latest approved cases', 'kb.mine': 'My submissions', 'kb.mine_none': 'You have not submitted a case yet.',
    'kb.new': 'Submit a case', 'kb.new_title': 'New case', 'kb.from_job': 'From job #{id}',
    'kb.kind': 'Kind', 'kb.kind_case': 'Case', 'kb.kind_document': 'Document', 'kb.field_title': 'Title',
    'kb.symptom': 'Symptom', 'kb.cause': 'Cause', 'kb.solution': 'Solution', 'kb.tags': 'Tags',
    'kb.tags_hint': 'Separated by commas, e.g. hvac, leak', 'kb.submit': 'Submit for review',
    'kb.sent': 'Case submitted for review.', 'kb.status.submitted': 'Waiting for review', 'kb.status.approved': 'Approved',
    'kb.status.rejected': 'Not approved', 'kb.quality': 'Quality {n} / 5', 'kb.note': 'Reviewer’s note: {note}',
    'kb.need_title': 'Give a title.', 'kb.need_solution': 'Describe the solution.', 'kb.waiting': 'Waiting to send',
  },
  'zh-CN': {
    'kb.title': '知识库', 'kb.search': '搜索案例', 'kb.search_button': '搜索', 'kb.search_hint': '可用中文或英文，例如 漏水 或 leak',
    'kb.results': { other: '找到 {n} 个案例' }, 'kb.no_results': '没有匹配的已通过案例。', 'kb.no_results_for': '没有与“{q}”匹配的已通过案例。',
    'kb.latest': '最新通过的案例', 'kb.mine': '我的投稿', 'kb.mine_none': '您还没有提交过案例。',
    'kb.new': '提交案例', 'kb.new_title': '新案例', 'kb.from_job': '来自工单 #{id}',
    'kb.kind': '类型', 'kb.kind_case': '案例', 'kb.kind_document': '文档', 'kb.field_title': '标题',
    'kb.symptom': '现象', 'kb.cause': '原因', 'kb.solution': '解决方法', 'kb.tags': '标签',
    'kb.tags_hint': '用逗号分隔，例如 空调, 漏水', 'kb.submit': '提交审核',
    'kb.sent': '案例已提交审核。', 'kb.status.submitted': '待审核', 'kb.status.approved': '已通过',
    'kb.status.rejected': '未通过', 'kb.quality': '质量 {n} / 5', 'kb.note': '审核意见：{note}',
    'kb.need_title': '请填写标题。', 'kb.need_solution': '请填写解决方法。', 'kb.waiting': '等待发送',
  },
});

export const roles = ['engineer'];
export const title = (ctx) => (ctx.params[0] === 'new' ? 'kb.new_title' : 'kb.title');

const statusTone = { submitted: 'warn', approved: 'ok', rejected: 'bad' };

function caseCard(c, { mine = false } = {}) {
  return h('li', { class: 'card' },
    h('details', {},
      h('summary', { class: 'card-title' }, c.title),
      c.symptom ? h('p', {}, h('strong', {}, t('kb.symptom'), ': '), c.symptom) : null,
      c.cause ? h('p', {}, h('strong', {}, t('kb.cause'), ': '), c.cause) : null,
      h('p', {}, h('strong', {}, t('kb.solution'), ': '), c.solution)),
    h('div', { class: 'chips' },
      mine ? chip(t(`kb.status.${c.status}`), statusTone[c.status]) : null,
      c.quality ? chip(t('kb.quality', { n: c.quality }), 'info') : null,
      c.tags.map((tag) => chip(`#${tag}`))),
    mine && c.review_note ? h('p', { class: 'meta' }, t('kb.note', { note: c.review_note })) : null,
    h('p', { class: 'meta' }, date(c.reviewed_at || c.created_at)));
}

export default async function render(ctx) {
  if (ctx.params[0] === 'new') return renderForm(ctx, ctx.params[1] ? Number(ctx.params[1]) : null);
  const input = h('input', { class: 'input', type: 'search', name: 'q', enterkeyhint: 'search', 'aria-label': t('kb.search') });
  const results = h('div', { 'aria-live': 'polite' });
  const mine = h('div', {});
  const search = async () => {
    const q = input.value.trim();
    await withStates(results, async () => {
      const r = await api.load('cases', { q: q || undefined, status: 'approved', per_page: 30 });
      // An empty result is said once: the message, without a "0 cases found" heading above it.
      if (!r.data.items.length) return [staleNote(r.stale), empty(q ? t('kb.no_results_for', { q }) : t('kb.no_results'))];
      return [staleNote(r.stale), h('h2', { class: 'section-title' }, q ? t('kb.results', { n: r.data.total }) : t('kb.latest')),
        h('ul', { class: 'list' }, r.data.items.map((c) => caseCard(c)))];
    });
  };
  clear(ctx.main,
    h('form', { class: 'search', role: 'search', onsubmit: (ev) => { ev.preventDefault(); search(); } },
      input, h('button', { type: 'submit', class: 'btn btn-primary' }, t('kb.search_button'))),
    h('p', { class: 'meta' }, t('kb.search_hint')),
    h('a', { class: 'btn btn-block', href: '#/knowledge/new' }, t('kb.new')),
    h('div', { class: 'cols-2' }, results, mine));
  // Both lists load at once, but "mine" (below the results on a phone) is drawn after the
  // results: a spinner there would be pushed down by them (a layout shift).
  const loadMine = () => api.load('cases', { author_id: ctx.user.id, per_page: 50 });
  let early = loadMine();
  early.catch(() => {}); // handled below, by withStates
  await search();
  await withStates(mine, async () => {
    const pending = early || loadMine(); // "Try again" loads afresh
    early = null;
    const r = await pending;
    const waiting = queue.pending((e) => e.kind === 'case');
    return [h('h2', { class: 'section-title' }, t('kb.mine')),
      waiting.map((e) => h('div', { class: 'card' }, h('strong', {}, e.json.title), ' ', chip(e.state === 'refused' ? t('outbox.refused') : t('kb.waiting'), e.state === 'refused' ? 'bad' : 'warn'))),
      r.data.items.length ? h('ul', { class: 'list' }, r.data.items.map((c) => caseCard(c, { mine: true })))
        : waiting.length ? null : empty(t('kb.mine_none'))];
  });
}

async function renderForm(ctx, jobId) {
  let job = null;
  if (jobId) {
    clear(ctx.main, loading());
    try { job = (await api.load(`jobs/${jobId}`)).data; } catch (error) { clear(ctx.main, errorState(error, () => ctx.rerender())); return; }
  }
  const kind = h('select', { class: 'select', name: 'kind' },
    h('option', { value: 'case' }, t('kb.kind_case')), h('option', { value: 'document' }, t('kb.kind_document')));
  const titleInput = h('input', { class: 'input', name: 'title', required: true, maxlength: 200, value: job ? job.title : '' });
  const symptom = h('textarea', { class: 'textarea', name: 'symptom', value: job && job.description ? job.description : '' });
  const cause = h('textarea', { class: 'textarea', name: 'cause' });
  const solution = h('textarea', { class: 'textarea', name: 'solution', required: true, value: job && job.resolution ? job.resolution : '' });
  const tags = h('input', { class: 'input', name: 'tags', value: job ? job.category : '' });
  const message = h('div', { role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-big btn-block' }, t('kb.submit'));
  const form = h('form', { class: 'form', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    const problems = [];
    if (!titleInput.value.trim()) problems.push(t('kb.need_title'));
    if (!solution.value.trim()) problems.push(t('kb.need_solution'));
    if (problems.length) { clear(message, h('ul', { class: 'field-error' }, problems.map((p) => h('li', {}, p)))); return; }
    const body = {
      kind: kind.value, title: titleInput.value.trim(), solution: solution.value.trim(),
      tags: tags.value.split(/[,，]/).map((x) => x.trim()).filter(Boolean).slice(0, 10),
    };
    if (symptom.value.trim()) body.symptom = symptom.value.trim();
    if (cause.value.trim()) body.cause = cause.value.trim();
    if (jobId) body.job_id = jobId;
    submit.disabled = true;
    try {
      const r = await queue.submit({ kind: 'case', path: 'cases', json: body, job_id: jobId || undefined });
      toast(r.status === 'sent' ? t('kb.sent') : t('outbox.saved_offline'), r.status === 'sent' ? 'ok' : '');
      location.hash = '#/knowledge';
    } catch (error) {
      clear(message, h('p', { class: 'field-error' }, problemText(error)));
      if (error.errors) showFieldErrors(form, error.errors);
      submit.disabled = false;
    }
  } },
  job ? h('p', { class: 'meta' }, t('kb.from_job', { id: jobId }), ': ', job.title) : null,
  field(t('kb.kind'), kind), field(t('kb.field_title'), titleInput), field(t('kb.symptom'), symptom),
  field(t('kb.cause'), cause), field(t('kb.solution'), solution), field(t('kb.tags'), tags, { hint: t('kb.tags_hint') }),
  message, submit);
  clear(ctx.main, form);
}
