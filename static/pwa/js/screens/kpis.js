// #/kpis: this month's KPI card — total against the pass mark, one bar per weighted metric
// toward its target with the gap in words, rank and bonus line, streak dots, and the last six
// months' trend of the total and each dimension (js/trend.js). The card and the history are
// kept on the phone like every read (api.load), so the screen works offline.
import { t, register, num, date } from '../i18n.js';
import * as api from '../api.js';
import { h, chip, staleNote, withStates } from '../ui.js';
import { metricName, metricDefinitions } from '../metrics.js';
import { trendCard } from '../trend.js';

register({
  en: {
    'kpis.title': 'My KPIs', 'kpis.month': 'This month', 'kpis.total': 'Total score', 'kpis.pass': 'Pass mark {n}',
    'kpis.no_total': 'No score yet this month.', 'kpis.meets': 'On target', 'kpis.below': '{n} points below the pass mark',
    'kpis.rank': 'Rank {rank} of {ranked}', 'kpis.unranked': 'Not ranked yet',
    'kpis.bonus_yes': 'In the bonus group (top 20%)', 'kpis.bonus_no': 'Bonus line: top 20% of scores',
    'kpis.bonus_in_now': 'Inside the bonus group now (top 20% of scores)', 'kpis.bonus_out_now': 'Outside the bonus group now: it is the top 20% of scores',
    'kpis.scheme_name': '{level} {type}', 'scheme.junior': 'Junior', 'scheme.mid': 'Mid-level', 'scheme.senior': 'Senior',
    'scheme.field': 'field engineer', 'scheme.remote': 'remote support engineer', 'kpis.your_scheme': 'Your scheme: {name}',
    'kpis.dot_label_on': '{month} ✓', 'kpis.dot_label_off': '{month} ✗', 'kpis.dot_label_live': '{month} …', 'kpis.dot_live': '{month}: in progress',
    'kpis.streak': 'Months on target', 'kpis.streak_n': { one: '{n} month in a row on target', other: '{n} months in a row on target' },
    'kpis.promotion_yes': 'Promotion priority: 3 months on target reached', 'kpis.promotion_left': { one: '{n} more month on target for promotion priority', other: '{n} more months on target for promotion priority' },
    'kpis.metrics': 'Metrics', 'kpis.other': 'Not weighted in your scheme', 'kpis.no_data': 'No data this month',
    'kpis.met': 'Target met', 'kpis.weight': 'weight {n}', 'kpis.scheme': 'Scheme {key}', 'kpis.frozen': 'Closed month (figures frozen)',
    'kpis.dot_on': '{month}: on target', 'kpis.dot_off': '{month}: not on target', 'kpis.score_of': 'score {n} of 100',
    'gap.min_lower': '{gap} min faster needed (target {target} min)',
    'gap.pct_higher': '{gap} points more needed (target {target}%)', 'gap.pct_lower': '{gap} points lower needed (target {target}%)',
    'gap.nps': 'NPS {value} / {target}',
    'gap.count_higher': { one: '{gap} more needed this month', other: '{gap} more needed this month' },
    'gap.knowledge_items': { one: '{gap} more approved case', other: '{gap} more approved cases' },
    'gap.trainings_attended': { one: '{gap} more training', other: '{gap} more trainings' },
    'gap.count_lower': { one: '{gap} too many (target {target})', other: '{gap} too many (target {target})' },
    'gap.quality': '{gap} more quality points needed (target {target})',
    'value.min': '{v} min', 'value.pct': '{v}%', 'value.points': '{v}', 'value.count': '{v}', 'value.quality': '{v} / 5',
  },
  'zh-CN': {
    'kpis.title': '我的绩效', 'kpis.month': '本月', 'kpis.total': '总分', 'kpis.pass': '及格线 {n}',
    'kpis.no_total': '本月暂无得分。', 'kpis.meets': '已达标', 'kpis.below': '距及格线还差 {n} 分',
    'kpis.rank': '排名 {rank} / {ranked}', 'kpis.unranked': '暂未排名',
    'kpis.bonus_yes': '进入奖金组（前 20%）', 'kpis.bonus_no': '奖金线：得分前 20%',
    'kpis.bonus_in_now': '目前在奖金组内（得分前 20%）', 'kpis.bonus_out_now': '目前不在奖金组内：奖金组为得分前 20%',
    'kpis.scheme_name': '{level}{type}', 'scheme.junior': '初级', 'scheme.mid': '中级', 'scheme.senior': '高级',
    'scheme.field': '现场工程师', 'scheme.remote': '远程支持工程师', 'kpis.your_scheme': '考核方案：{name}',
    'kpis.dot_label_on': '{month} ✓', 'kpis.dot_label_off': '{month} ✗', 'kpis.dot_label_live': '{month} …', 'kpis.dot_live': '{month}：进行中',
    'kpis.streak': '连续达标月份', 'kpis.streak_n': { other: '连续 {n} 个月达标' },
    'kpis.promotion_yes': '已连续 3 个月达标：享有晋升优先权', 'kpis.promotion_left': { other: '再达标 {n} 个月即享晋升优先权' },
    'kpis.metrics': '指标', 'kpis.other': '您的方案中不计权重的指标', 'kpis.no_data': '本月暂无数据',
    'kpis.met': '已达成目标', 'kpis.weight': '权重 {n}', 'kpis.scheme': '方案 {key}', 'kpis.frozen': '已结账月份（数据已冻结）',
    'kpis.dot_on': '{month}：达标', 'kpis.dot_off': '{month}：未达标', 'kpis.score_of': '得分 {n} / 100',
    'gap.min_lower': '还需快 {gap} 分钟（目标 {target} 分钟）',
    'gap.pct_higher': '还差 {gap} 个百分点（目标 {target}%）', 'gap.pct_lower': '还需降低 {gap} 个百分点（目标 {target}%）',
    'gap.nps': 'NPS {value} / {target}',
    'gap.count_higher': { other: '本月还需 {gap} 个' },
    'gap.knowledge_items': { other: '还需 {gap} 个通过的案例' },
    'gap.trainings_attended': { other: '还需参加 {gap} 次培训' },
    'gap.count_lower': { other: '超出 {gap} 个（目标 {target}）' },
    'gap.quality': '质量分还差 {gap}（目标 {target}）',
    'value.min': '{v} 分钟', 'value.pct': '{v}%', 'value.points': '{v}', 'value.count': '{v}', 'value.quality': '{v} / 5',
  },
});

export const roles = ['engineer'];
export const title = 'kpis.title';

const UNIT = { min: 'min', '%': 'pct', points: 'points', count: 'count', '1–5': 'quality' };

function period(offset) {
  const d = new Date();
  d.setDate(1);
  d.setMonth(d.getMonth() - offset);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

export function gapText(m) {
  const unit = UNIT[m.unit] || 'count';
  const vars = { gap: num(m.gap), n: m.gap, target: num(m.target), value: num(m.value) };
  if (m.key === 'nps') return t('gap.nps', vars);
  if (!m.gap) return t('kpis.met');
  if (unit === 'min') return t('gap.min_lower', vars);
  if (unit === 'pct') return t(m.better === 'higher' ? 'gap.pct_higher' : 'gap.pct_lower', vars);
  if (unit === 'quality') return t('gap.quality', vars);
  if (m.better === 'higher') {
    const key = `gap.${m.key}`;
    return t(['knowledge_items', 'trainings_attended'].includes(m.key) ? key : 'gap.count_higher', vars);
  }
  return t('gap.count_lower', vars);
}

/** A scheme's name in words ("Mid-level field engineer"), never its key ("mid-field"). */
export function schemeName(key) {
  const [level, type] = String(key || '').split('-');
  const word = (k) => { const s = t(`scheme.${k}`); return s === `scheme.${k}` ? k : s; };
  return t('kpis.scheme_name', { level: word(level), type: word(type) });
}

function valueText(m) { return t(`value.${UNIT[m.unit] || 'count'}`, { v: num(m.value) }); }

/** One metric as a bar toward its target (shared with the supervisor's view of a card). */
export function metricBar(m) {
  const name = metricName(m.key);
  if (!m.has_data) {
    return h('li', { class: 'bar' }, h('div', { class: 'bar-head' }, h('span', {}, name), h('span', { class: 'meta' }, t('kpis.no_data'))));
  }
  if (m.target === null || m.target === undefined || !(m.weight > 0)) {
    return h('li', { class: 'bar' }, h('div', { class: 'bar-head' }, h('span', {}, name), h('span', {}, valueText(m))));
  }
  const met = !m.gap;
  return h('li', { class: ['bar', met && 'bar-met'] },
    h('div', { class: 'bar-head' }, h('span', {}, name), h('span', {}, valueText(m))),
    h('meter', { min: 0, max: 100, low: 50, high: 99.99, optimum: 100, value: m.score ?? 0, 'aria-label': `${name}: ${t('kpis.score_of', { n: num(m.score ?? 0) })}` }),
    h('span', { class: 'bar-gap' }, met ? `✓ ${t('kpis.met')}` : gapText(m), m.weight ? ` · ${t('kpis.weight', { n: num(m.weight) })}` : ''));
}

export default async function render(ctx) {
  await withStates(ctx.main, async () => {
    const [current, history, metrics] = await Promise.all([
      api.load(`kpi/engineers/${ctx.user.id}`),
      // The trend: months oldest first, the current one last (a failed read leaves it out).
      api.load(`kpi/engineers/${ctx.user.id}/history`, { months: 6 }).catch(() => null),
      metricDefinitions(),
    ]);
    const card = current.data;
    const months = history ? history.data.items || [] : [];
    const monthName = (p) => date(`${p}-15T12:00:00`, { month: 'short', year: 'numeric' });
    const shortMonth = (p) => date(`${p}-15T12:00:00`, { month: 'short' });
    // The streak dots: the five months before this one from the trend, this month from its card;
    // without the trend they are told by the streak (on target for its length, then not).
    const earlier = months.length === 6 && months[5].period === card.period ? months.slice(0, 5)
      : [5, 4, 3, 2, 1].map((k) => ({ period: period(k), meets_target: k < card.streak_months }));
    // Each dot labelled by its month ("Sep ✓"); the screen reader hears the whole sentence.
    // The current month is still open: not on target *yet* is not a miss.
    const state = (m) => (m.meets_target ? 'on' : m.period === card.period && !card.frozen ? 'live' : 'off');
    const dots = h('ul', { class: 'dots dots-labelled' }, [...earlier, card].map((m) => h('li', { class: 'streak-month', title: monthName(m.period) },
      h('span', { class: ['dot', m.meets_target && 'dot-on', state(m) === 'live' && 'dot-live'], 'aria-hidden': 'true' }),
      h('span', { class: 'dot-label', 'aria-hidden': 'true' }, t(`kpis.dot_label_${state(m)}`, { month: shortMonth(m.period) })),
      h('span', { class: 'visually-hidden' }, t(`kpis.dot_${state(m)}`, { month: monthName(m.period) })))));
    const total = card.total_score;
    const weighted = card.metrics.filter((m) => m.weight > 0).sort((a, b) => b.weight - a.weight);
    const others = card.metrics.filter((m) => !(m.weight > 0) && m.has_data);
    const toGo = Math.max(0, 3 - card.streak_months);
    return [
      staleNote(current.stale || (history && history.stale)),
      h('section', { class: ['card', card.meets_target ? 'card-ok' : total === null ? '' : 'card-warn'], 'aria-labelledby': 'kpi-total' },
        h('h2', { id: 'kpi-total' }, t('kpis.total'), ' · ', monthName(card.period)),
        total === null ? h('p', {}, t('kpis.no_total')) : [
          h('p', { class: 'big' }, num(total, { maximumFractionDigits: 2 }), h('span', { class: 'meta' }, ' / 100')),
          h('meter', { min: 0, max: 100, low: card.pass_score - 0.01, optimum: 100, value: total, 'aria-label': `${t('kpis.total')} ${num(total, { maximumFractionDigits: 2 })}` }),
          h('p', {}, h('strong', {}, card.meets_target ? `✓ ${t('kpis.meets')}` : t('kpis.below', { n: num(card.pass_score - total) })),
            ' · ', t('kpis.pass', { n: num(card.pass_score) })),
        ],
        h('p', {}, card.rank ? t('kpis.rank', { rank: card.rank, ranked: card.ranked }) : t('kpis.unranked')),
        h('p', { class: ['bonus', card.bonus_eligible ? 'bonus-in' : 'bonus-out'] },
          card.bonus_eligible ? h('strong', {}, `✓ ${t('kpis.bonus_in_now')}`) : t('kpis.bonus_out_now')),
        h('div', { class: 'chips' }, chip(t('kpis.your_scheme', { name: schemeName(card.scheme) })), card.frozen ? chip(t('kpis.frozen'), 'info') : null)),
      h('section', { class: 'card', 'aria-labelledby': 'kpi-streak' },
        h('h2', { id: 'kpi-streak' }, t('kpis.streak')),
        dots,
        h('p', {}, t('kpis.streak_n', { n: card.streak_months }), ' · ',
          card.promotion_priority ? h('strong', {}, t('kpis.promotion_yes')) : t('kpis.promotion_left', { n: toGo }))),
      trendCard(months, { id: 'kpi-trend', order: metrics.dimensions }),
      h('section', { class: 'card', 'aria-labelledby': 'kpi-metrics' },
        h('h2', { id: 'kpi-metrics' }, t('kpis.metrics')),
        h('ul', { class: 'list' }, weighted.map(metricBar)),
        others.length ? [h('h3', { class: 'section-title' }, t('kpis.other')), h('ul', { class: 'list' }, others.map(metricBar))] : null),
    ];
  });
}
