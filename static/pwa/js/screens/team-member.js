// #/engineer/ID[/YYYY-MM]: a team member's KPI card as their supervisor sees it (opened
// from the team board): total against the pass mark, rank and bonus, streak, each metric
// toward its target with the gap in words (the words of the engineer's own KPI screen); the
// six months' trend (js/trend.js, as on the engineer's own KPI screen), their recent visits and
// jobs, their reviews; their phone number as a tel: link (tap to call), when they have one.
import { t, register, num, date, dateTime } from '../i18n.js';
import * as api from '../api.js';
import { h, chip, link, staleNote, withStates, useStyles, mount } from '../ui.js';
import { metricBar, schemeName } from './kpis.js';
import { flagIcons } from '../flags.js';
import { word, priorityTone, visitTone, telHref } from '../fieldwork.js';
import { month, monthName } from './supervisor/shared.js';
import { dimensionName, metricDefinitions } from '../metrics.js';
import { trendCard } from '../trend.js';

register({
  en: {
    'eng.title': 'KPI card',
    'eng.review': 'Hold a review',
    'eng.board': 'Back to the team board',
    'eng.dimensions': 'Dimensions',
    'eng.promotion': 'Promotion priority',
    'eng.not_weighted': 'Not weighted in this scheme',
    'eng.visits': 'Recent visits', 'eng.no_visits': 'No visits yet.',
    'eng.jobs': 'Recent jobs', 'eng.no_jobs': 'No jobs yet.',
    'eng.reviews': 'Reviews', 'eng.no_reviews': 'No reviews yet.',
    'eng.items_done': '{done} of {n} actions done',
    'eng.all_reviews': 'All reviews',
    'eng.call': 'Call {phone}', 'eng.call_label': 'Call {name} on {phone}',
  },
  'zh-CN': {
    'eng.title': '绩效卡',
    'eng.review': '进行绩效面谈',
    'eng.board': '返回团队排名',
    'eng.dimensions': '维度得分',
    'eng.promotion': '优先晋升',
    'eng.not_weighted': '此方案中不计权重',
    'eng.visits': '最近上门', 'eng.no_visits': '还没有上门记录。',
    'eng.jobs': '最近工单', 'eng.no_jobs': '还没有工单。',
    'eng.reviews': '绩效面谈', 'eng.no_reviews': '还没有面谈记录。',
    'eng.items_done': '改进事项完成 {done}/{n}',
    'eng.all_reviews': '全部面谈',
    'eng.call': '拨打 {phone}', 'eng.call_label': '拨打 {name} 的电话 {phone}',
  },
});

export const roles = ['supervisor', 'admin'];
export const title = 'eng.title';


export default async function render(ctx) {
  const root = mount(ctx);
  await useStyles();
  const id = Number(ctx.params[0]);
  const period = /^\d{4}-\d{2}$/.test(ctx.params[1] || '') ? ctx.params[1] : month();
  await withStates(root, async () => {
    const none = { data: { items: [] } };
    const [{ data: card, stale }, { data: person }, history, visits, jobs, reviews, sites, metrics] = await Promise.all([
      api.load(`kpi/engineers/${id}`, { period }),
      api.load(`users/${id}`).catch(() => ({ data: { name: `#${id}` } })),
      api.load(`kpi/engineers/${id}/history`, { months: 6 }).catch(() => none),
      api.load('visits', { engineer_id: id, per_page: 5 }).catch(() => none),
      api.load('jobs', { engineer_id: id, per_page: 5 }).catch(() => none),
      api.load('reviews', { engineer_id: id, per_page: 3 }).catch(() => none),
      api.loadAll('sites').then((r) => Object.fromEntries(r.data.map((x) => [x.id, x]))).catch(() => ({})),
      metricDefinitions(),
    ]);
    const dimensions = metrics.dimensions.length ? metrics.dimensions : Object.keys(card.dimensions || {});
    if (ctx.isCurrent()) ctx.setTitle(person.name);
    const total = card.total_score;
    const weighted = card.metrics.filter((m) => m.weight > 0).sort((a, b) => b.weight - a.weight);
    const others = card.metrics.filter((m) => !(m.weight > 0) && m.has_data);
    return [
      staleNote(stale),
      h('div', { class: 'btn-row' }, link(`← ${t('eng.board')}`, `#/team/${period}`),
        link(t('eng.review'), `#/reviews/new/${id}`, { kind: 'primary' }),
        person.phone ? callLink(person) : null),
      h('div', { class: 'cols-2' },
        h('div', {},
          h('section', { class: ['card', card.meets_target ? 'card-ok' : total === null ? '' : 'card-warn'], 'aria-labelledby': 'eng-total' },
            h('h2', { id: 'eng-total' }, t('kpis.total'), ' · ', monthName(card.period)),
            total === null ? h('p', {}, t('kpis.no_total')) : [
              h('p', { class: 'big' }, num(total, { maximumFractionDigits: 2 }), h('span', { class: 'meta' }, ' / 100')),
              h('meter', { min: 0, max: 100, low: card.pass_score - 0.01, optimum: 100, value: total, 'aria-label': `${t('kpis.total')} ${num(total)}` }),
              h('p', {}, h('strong', {}, card.meets_target ? `✓ ${t('kpis.meets')}` : t('kpis.below', { n: num(card.pass_score - total) })),
                ' · ', t('kpis.pass', { n: num(card.pass_score) })),
            ],
            h('p', {}, card.rank ? t('kpis.rank', { rank: card.rank, ranked: card.ranked }) : t('kpis.unranked'), ' · ',
              card.bonus_eligible ? h('strong', {}, t('kpis.bonus_yes')) : t('kpis.bonus_no')),
            h('p', {}, t('kpis.streak_n', { n: card.streak_months })),
            h('div', { class: 'chips' }, chip(schemeName(card.scheme)),
              card.promotion_priority ? chip(t('eng.promotion'), 'ok') : null,
              card.frozen ? chip(t('kpis.frozen'), 'info') : null)),
          h('section', { class: 'card', 'aria-labelledby': 'eng-dims' },
            h('h2', { id: 'eng-dims' }, t('eng.dimensions')),
            h('ul', { class: 'list' }, dimensions.map((d) => {
              const value = card.dimensions ? card.dimensions[d] : null;
              return h('li', { class: 'bar' },
                h('div', { class: 'bar-head' }, h('span', {}, dimensionName(d)), h('span', {}, value === null || value === undefined ? '—' : num(value, { maximumFractionDigits: 2 }))),
                value === null || value === undefined ? null
                  : h('meter', { min: 0, max: 100, low: 50, high: 80, optimum: 100, value, 'aria-label': `${dimensionName(d)} ${num(value, { maximumFractionDigits: 2 })}` }));
            })))),
        h('section', { class: 'card', 'aria-labelledby': 'eng-metrics' },
          h('h2', { id: 'eng-metrics' }, t('kpis.metrics')),
          h('ul', { class: 'list' }, weighted.map(metricBar)),
          others.length ? [h('h3', { class: 'section-title' }, t('eng.not_weighted')), h('ul', { class: 'list' }, others.map(metricBar))] : null)),
      h('div', { class: 'cols-2' },
        h('div', {}, trendCard(history.data.items || [], { id: 'eng-trend', order: dimensions }), reviewList(id, reviews.data.items || [])),
        h('div', {}, visitList(visits.data.items || [], sites), jobList(jobs.data.items || [], sites))),
    ];
  });
}

// Tap to call: the number as stored, dialled as its digits (telHref, as the job screen).
function callLink(person) {
  return link(t('eng.call', { phone: person.phone }), telHref(person.phone), {
    kind: 'ok primary', 'aria-label': t('eng.call_label', { name: person.name, phone: person.phone }),
  });
}

function siteName(sites, id) { return sites[id] ? sites[id].name : `#${id}`; }

function visitList(visits, sites) {
  return h('section', { class: 'card', 'aria-labelledby': 'eng-visits' },
    h('h2', { id: 'eng-visits' }, t('eng.visits')),
    visits.length ? h('ul', { class: 'list' }, visits.map((v) => h('li', { class: 'list-row' },
      h('div', { class: 'grow' },
        h('a', { href: `#/queue/visit/${v.id}` }, siteName(sites, v.site_id)),
        h('div', { class: 'meta' }, dateTime(v.check_in && v.check_in.client_time)),
        (v.flags || []).length ? flagIcons(v.flags) : null),
      chip(word('visit', v.status), visitTone(v.status)))))
      : h('p', { class: 'meta' }, t('eng.no_visits')));
}

function jobList(jobs, sites) {
  return h('section', { class: 'card', 'aria-labelledby': 'eng-jobs' },
    h('h2', { id: 'eng-jobs' }, t('eng.jobs')),
    jobs.length ? h('ul', { class: 'list' }, jobs.map((j) => h('li', { class: 'list-row' },
      h('div', { class: 'grow' },
        h('a', { href: `#/dispatch/${j.id}` }, j.title),
        h('div', { class: 'meta' }, `${siteName(sites, j.site_id)} · ${j.scheduled_for ? date(j.scheduled_for) : word('status', j.status)}`)),
      chip(word('priority', j.priority), priorityTone(j.priority)), chip(word('status', j.status)))))
      : h('p', { class: 'meta' }, t('eng.no_jobs')));
}

function reviewList(id, reviews) {
  return h('section', { class: 'card', 'aria-labelledby': 'eng-reviews' },
    h('h2', { id: 'eng-reviews' }, t('eng.reviews')),
    reviews.length ? h('ul', { class: 'list' }, reviews.map((r) => {
      const items = r.action_items || [];
      return h('li', { class: 'list-row' }, h('div', { class: 'grow' },
        h('strong', {}, monthName(r.period)),
        h('div', { class: 'eng-summary' }, r.summary),
        items.length ? h('div', { class: 'meta' }, t('eng.items_done', { done: items.filter((i) => i.done).length, n: items.length })) : null));
    })) : h('p', { class: 'meta' }, t('eng.no_reviews')),
    h('p', {}, h('a', { href: `#/reviews` }, t('eng.all_reviews'))));
}
