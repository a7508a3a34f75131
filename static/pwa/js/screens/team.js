// #/team[/YYYY-MM]: the team board (kpi.md), best first, each engineer with their scheme's
// pass mark (today's schemes); a row opens the engineer's card.
import { t, register, num } from '../i18n.js';
import * as api from '../api.js';
import { h, chip, field, empty, staleNote, withStates, useStyles } from '../ui.js';
import { month, monthName, monthOptions, levelText } from './supervisor/shared.js';
import { dimensionName, metricDefinitions } from '../metrics.js';
import { schemeName } from './kpis.js';

register({
  en: {
    'team.title': 'Team board', 'team.report': 'Weekly report',
    'team.ranked': { one: '{n} engineer ranked in the organisation.', other: '{n} engineers ranked in the organisation.' },
    'team.live': 'Live figures for the current month.',
    'team.frozen': 'Closed month: these figures are frozen.',
    'team.none': 'No engineer in your team yet.',
    'team.rank': 'Rank {n}', 'team.unranked': 'Not ranked',
    'team.score': 'Score {n}', 'team.no_data': 'No data this month',
    'team.meets': 'On target', 'team.below': 'Below target',
    'team.bonus': 'Bonus', 'team.promotion': 'Promotion priority',
    'team.streak': { one: '{n} month on target', other: '{n} months on target' },
    'team.open': 'Open the KPI card of {name}',
    'team.scheme': '{scheme} · pass mark {n}',
    'team.schemes': 'Pass marks: ',
  },
  'zh-CN': {
    'team.title': '团队排名', 'team.report': '周报',
    'team.ranked': { other: '全公司共 {n} 名工程师参与排名。' },
    'team.live': '本月实时数据。',
    'team.frozen': '该月已结账：数据已冻结。',
    'team.none': '您的团队还没有工程师。',
    'team.rank': '第 {n} 名', 'team.unranked': '未排名',
    'team.score': '得分 {n}', 'team.no_data': '本月暂无数据',
    'team.meets': '达标', 'team.below': '未达标',
    'team.bonus': '奖金', 'team.promotion': '优先晋升',
    'team.streak': { other: '连续 {n} 个月达标' },
    'team.open': '打开 {name} 的绩效卡',
    'team.scheme': '{scheme} · 及格线 {n}',
    'team.schemes': '及格线：',
  },
});

export const roles = ['supervisor', 'admin'];
export const title = 'team.title';

export default async function render(ctx) {
  const period = /^\d{4}-\d{2}$/.test(ctx.params[0] || '') ? ctx.params[0] : month();
  const picker = h('select', { class: 'select', name: 'period', onchange: () => ctx.navigate(`#/team/${picker.value}`) },
    monthOptions(12).map((m) => h('option', { value: m, selected: m === period }, monthName(m))));
  const body = h('div', {});
  ctx.main.replaceChildren(h('div', { class: 'sup-toolbar' }, field(t('sup.month'), picker),
    h('a', { class: 'btn', href: '#/report' }, t('team.report'))), body);
  await useStyles();
  await withStates(body, async () => {
    const [{ data, stale }, schemes, metrics] = await Promise.all([api.load('kpi/team', { period }),
      api.loadAll('kpi/schemes').then((r) => Object.fromEntries(r.data.map((x) => [x.key, x]))).catch(() => ({})),
      metricDefinitions()]);
    if (!data.items.length) return [staleNote(stale), empty(t('team.none'))];
    // The pass mark of each scheme the team is scored by, once above the board.
    const used = [...new Set(data.items.map((i) => `${i.level}-${i.work_type}`))].filter((k) => schemes[k]).sort();
    return [
      staleNote(stale),
      h('p', { class: 'meta' }, `${t(data.frozen ? 'team.frozen' : 'team.live')} ${t('team.ranked', { n: data.ranked })}`),
      used.length ? h('p', { class: 'team-schemes' }, h('strong', {}, t('team.schemes')),
        used.map((k, i) => [i ? ' · ' : '', t('team.scheme', { scheme: schemeName(k), n: num(schemes[k].pass_score) })])) : null,
      h('ol', { class: 'team-board', 'aria-label': t('team.title') }, data.items.map((item) => row(item, data.period, schemes[`${item.level}-${item.work_type}`], metrics.dimensions))),
    ];
  });
}

function row(item, period, scheme, dimensions) {
  const hasTotal = item.total_score !== null && item.total_score !== undefined;
  return h('li', { class: 'team-item' }, h('a', {
    class: ['card', 'team-row', item.bonus_eligible && 'team-row-bonus'],
    href: `#/engineer/${item.engineer_id}/${period}`,
    'aria-label': `${item.rank ? t('team.rank', { n: item.rank }) : t('team.unranked')}: ${item.name}, ${hasTotal ? t('team.score', { n: num(item.total_score, { maximumFractionDigits: 2 }) }) : t('team.no_data')}. ${t('team.open', { name: item.name })}`,
  },
  h('span', { class: ['team-rank', !item.rank && 'team-rank-none'], 'aria-hidden': 'true' }, item.rank ? `#${item.rank}` : '—'),
  h('span', { class: 'team-who' },
    h('strong', { class: 'team-name' }, item.name),
    h('span', { class: 'meta' }, scheme ? t('team.scheme', { scheme: schemeName(scheme.key), n: num(scheme.pass_score) }) : levelText(item.level, item.work_type)),
    h('span', { class: 'chips' },
      hasTotal ? chip(t(item.meets_target ? 'team.meets' : 'team.below'), item.meets_target ? 'ok' : 'warn') : null,
      item.bonus_eligible ? chip(t('team.bonus'), 'info') : null,
      item.promotion_priority ? chip(t('team.promotion'), 'ok') : null,
      item.streak_months ? chip(t('team.streak', { n: item.streak_months })) : null)),
  h('span', { class: 'team-total' },
    hasTotal ? [h('span', { class: 'big' }, num(item.total_score, { maximumFractionDigits: 2 })),
      h('meter', { min: 0, max: 100, low: scheme ? scheme.pass_score - 0.01 : 60, high: 80, optimum: 100, value: item.total_score, 'aria-hidden': 'true' })]
      : h('span', { class: 'meta' }, t('team.no_data'))),
  h('span', { class: 'team-dims', 'aria-hidden': 'true' }, (dimensions.length ? dimensions : Object.keys(item.dimensions || {})).map((d) => h('span', { class: 'team-dim' },
    h('span', { class: 'team-dim-name' }, dimensionName(d)),
    h('span', { class: 'team-dim-value' }, item.dimensions && item.dimensions[d] !== null && item.dimensions[d] !== undefined ? num(item.dimensions[d], { maximumFractionDigits: 0 }) : '—'))))));
}
