// #/engineer/ID[/YYYY-MM]: a team member's KPI card as their supervisor sees it (opened
// from the team board): total against the pass mark, rank and bonus, streak, each metric
// toward its target with the gap in words (the words of the engineer's own KPI screen).
import { t, register, num } from '../i18n.js';
import * as api from '../api.js';
import { h, chip, link, staleNote, withStates } from '../ui.js';
import { metricBar } from './kpis.js';
import { useStyles, mount, month, monthName, DIMENSIONS } from './supervisor/shared.js';

register({
  en: {
    'eng.title': 'KPI card',
    'eng.review': 'Hold a review',
    'eng.board': 'Back to the team board',
    'eng.dimensions': 'Dimensions',
    'eng.promotion': 'Promotion priority',
    'eng.not_weighted': 'Not weighted in this scheme',
  },
  'zh-CN': {
    'eng.title': '绩效卡',
    'eng.review': '进行绩效面谈',
    'eng.board': '返回团队排名',
    'eng.dimensions': '维度得分',
    'eng.promotion': '优先晋升',
    'eng.not_weighted': '此方案中不计权重',
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
    const [{ data: card, stale }, { data: person }] = await Promise.all([
      api.load(`kpi/engineers/${id}`, { period }),
      api.load(`users/${id}`).catch(() => ({ data: { name: `#${id}` } })),
    ]);
    if (ctx.isCurrent()) ctx.setTitle(person.name);
    const total = card.total_score;
    const weighted = card.metrics.filter((m) => m.weight > 0).sort((a, b) => b.weight - a.weight);
    const others = card.metrics.filter((m) => !(m.weight > 0) && m.has_data);
    return [
      staleNote(stale),
      h('div', { class: 'btn-row' }, link(`← ${t('eng.board')}`, `#/team/${period}`),
        link(t('eng.review'), `#/reviews/new/${id}`, { kind: 'primary' })),
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
            h('div', { class: 'chips' }, chip(t('kpis.scheme', { key: card.scheme })),
              card.promotion_priority ? chip(t('eng.promotion'), 'ok') : null,
              card.frozen ? chip(t('kpis.frozen'), 'info') : null)),
          h('section', { class: 'card', 'aria-labelledby': 'eng-dims' },
            h('h2', { id: 'eng-dims' }, t('eng.dimensions')),
            h('ul', { class: 'list' }, DIMENSIONS.map((d) => {
              const value = card.dimensions ? card.dimensions[d] : null;
              return h('li', { class: 'bar' },
                h('div', { class: 'bar-head' }, h('span', {}, t(`sup.dim.${d}`)), h('span', {}, value === null || value === undefined ? '—' : num(value))),
                value === null || value === undefined ? null
                  : h('meter', { min: 0, max: 100, low: 50, high: 80, optimum: 100, value, 'aria-label': `${t(`sup.dim.${d}`)} ${num(value)}` }));
            })))),
        h('section', { class: 'card', 'aria-labelledby': 'eng-metrics' },
          h('h2', { id: 'eng-metrics' }, t('kpis.metrics')),
          h('ul', { class: 'list' }, weighted.map(metricBar)),
          others.length ? [h('h3', { class: 'section-title' }, t('eng.not_weighted')), h('ul', { class: 'list' }, others.map(metricBar))] : null)),
    ];
  });
}
