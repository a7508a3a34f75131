// The KPI trend of one engineer over the last months (GET /kpi/engineers/{id}/history),
// drawn by the app in SVG: the total against the pass mark as the main chart, each of the
// scheme's dimensions as a small chart beside it, and every figure in a table under them.
// A closed month is frozen (a filled dot, its card as closed); the current month is live
// (a ring, "so far", reached by a dashed line). Used by the engineer's own KPI screen and
// the supervisor's page of an engineer; loaded only with them (not part of the shell).
import { t, register, num, date } from './i18n.js';
import { h, svg } from './ui.js';
import { dimensionName } from './metrics.js';

register({
  en: {
    'trend.title': { one: 'Last month', other: 'Last {n} months' },
    'trend.label': 'Total score by month against the pass mark: {months}.',
    'trend.month': '{month} {total} (pass mark {pass}{state})',
    'trend.frozen': ', frozen', 'trend.live': ', so far', 'trend.sep': '; ',
    'trend.key.total': 'Total score', 'trend.key.pass': 'Pass mark',
    'trend.key.frozen': 'Closed month (frozen)', 'trend.key.live': 'This month so far',
    'trend.dims': 'Dimensions', 'trend.now': 'latest month: ', 'trend.now_live': 'this month so far: ', 'trend.none': 'no data',
    'trend.figures': 'The figures by month', 'trend.series': 'Score',
    'trend.col.frozen': 'frozen', 'trend.col.live': 'so far',
    'trend.no_total': 'No total yet in these months.',
  },
  'zh-CN': {
    'trend.title': { other: '近 {n} 个月' },
    'trend.label': '每月总分与及格线：{months}。',
    'trend.month': '{month} {total}（及格线 {pass}{state}）',
    'trend.frozen': '，已冻结', 'trend.live': '，截至目前', 'trend.sep': '；',
    'trend.key.total': '总分', 'trend.key.pass': '及格线',
    'trend.key.frozen': '已结账月份（冻结）', 'trend.key.live': '本月截至目前',
    'trend.dims': '各维度', 'trend.now': '最近一个月：', 'trend.now_live': '本月截至目前：', 'trend.none': '暂无数据',
    'trend.figures': '每月数值', 'trend.series': '得分',
    'trend.col.frozen': '已冻结', 'trend.col.live': '截至目前',
    'trend.no_total': '这几个月还没有总分。',
  },
});

const has = (v) => v !== null && v !== undefined;
const exact = (v) => num(v, { maximumFractionDigits: 2 });

/**
 * The dimensions the months carry, in `order` (the scheme's dimensions as GET kpi/metrics
 * lists them); any other a month carries follows by name.
 */
export function dimensionsOf(items, order = []) {
  const seen = new Set(items.flatMap((m) => Object.keys(m.dimensions || {})));
  return [...order.filter((d) => seen.has(d)), ...[...seen].filter((d) => !order.includes(d)).sort()];
}

// A month (YYYY-MM) by name: short ("Sep") or long ("September 2026").
function monthDate(period) {
  const [y, m] = period.split('-').map(Number);
  return new Date(y, m - 1, 1);
}
const shortMonth = (period) => date(monthDate(period), { month: 'short' });
const longMonth = (period) => date(monthDate(period), { month: 'long', year: 'numeric' });

/** Where the months go across a chart `width` wide with `pad` on either side. */
function xs(count, width, left, right) {
  const step = count > 1 ? (width - left - right) / (count - 1) : 0;
  return (i) => (count > 1 ? left + i * step : (width - left - right) / 2 + left);
}

/**
 * A line over 0–100 through the months that have a value: solid between closed months,
 * dashed into the open one; a filled dot on a frozen month, a ring on an open one.
 */
function line(items, value, x, y, prefix, r) {
  const nodes = [];
  const points = items.map((m, i) => [m, i]).filter(([m]) => has(value(m)));
  for (let k = 1; k < points.length; k += 1) {
    const [a, i] = points[k - 1];
    const [b, j] = points[k];
    nodes.push(svg('line', { x1: x(i), y1: y(value(a)), x2: x(j), y2: y(value(b)),
      class: [`${prefix}-line`, !b.frozen && `${prefix}-line-open`].filter(Boolean).join(' ') }));
  }
  for (const [m, i] of points) {
    nodes.push(svg('circle', { cx: x(i), cy: y(value(m)), r, class: m.frozen ? 'trend-dot-frozen' : 'trend-dot-live' }));
  }
  return { nodes, points };
}

/** The total by month against each month's pass mark (its label carries every figure). */
export function totalChart(items) {
  const W = 340, H = 170, left = 30, right = 6, top = 18, bottom = 24, inset = 18;
  const x = xs(items.length, W, left + inset, right + inset);
  const y = (v) => top + (1 - v / 100) * (H - top - bottom);
  const nodes = [0, 50, 100].flatMap((v) => [
    svg('line', { x1: left, x2: W - right, y1: y(v), y2: y(v), class: 'trend-grid' }),
    svg('text', { x: left - 5, y: y(v) + 4, 'text-anchor': 'end', class: 'trend-axis' }, String(v))]);
  const half = items.length > 1 ? (x(1) - x(0)) / 2 : inset;
  nodes.push(svg('path', { class: 'trend-pass', d: items.filter((m) => has(m.pass_score)).map((m) => {
    const i = items.indexOf(m);
    return `M${x(i) - half * 0.8} ${y(m.pass_score)}H${x(i) + half * 0.8}`;
  }).join('') }));
  const { nodes: drawn, points } = line(items, (m) => m.total_score, x, y, 'trend', 5);
  nodes.push(...drawn);
  for (const [m, i] of points) {
    // Above the dot, or below it when the dot is near the top.
    const above = y(m.total_score) - 10 > top - 6;
    nodes.push(svg('text', { x: x(i), y: above ? y(m.total_score) - 10 : y(m.total_score) + 18,
      'text-anchor': 'middle', class: ['trend-value', !m.frozen && 'trend-value-live'].filter(Boolean).join(' ') },
    num(m.total_score, { maximumFractionDigits: 0 })));
  }
  items.forEach((m, i) => nodes.push(svg('text', { x: x(i), y: H - 6, 'text-anchor': 'middle',
    class: ['trend-axis', m.live && 'trend-axis-live'].filter(Boolean).join(' ') }, shortMonth(m.period))));
  const label = t('trend.label', { months: items.map((m) => t('trend.month', {
    month: longMonth(m.period), total: exact(m.total_score), pass: num(m.pass_score),
    state: m.frozen ? t('trend.frozen') : m.live ? t('trend.live') : '',
  })).join(t('trend.sep')) });
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, class: 'trend-chart' }, nodes);
}

/** One dimension's months as a small chart (the table below says its figures). */
function dimensionChart(items, key) {
  const W = 150, H = 44, pad = 6;
  const x = xs(items.length, W, pad, pad);
  const y = (v) => pad + (1 - v / 100) * (H - 2 * pad);
  const value = (m) => (m.dimensions ? m.dimensions[key] : null);
  const nodes = [svg('line', { x1: pad, x2: W - pad, y1: y(50), y2: y(50), class: 'trend-grid' }),
    ...line(items, value, x, y, 'trend', 3.5).nodes];
  const last = items[items.length - 1];
  const now = last ? value(last) : null;
  return h('li', { class: 'trend-dim' },
    h('div', { class: 'trend-dim-head' }, h('span', { class: 'trend-dim-name' }, dimensionName(key)),
      h('span', { class: 'trend-dim-now' }, has(now)
        ? [h('span', { class: 'visually-hidden' }, t(last.live ? 'trend.now_live' : 'trend.now')), exact(now)] : t('trend.none'))),
    svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'trend-spark', 'aria-hidden': 'true', focusable: 'false' }, nodes));
}

/** Every figure: a row per score (the total, then each dimension), a column per month. */
export function figuresTable(items, dims = dimensionsOf(items)) {
  const series = [['total', t('trend.key.total'), (m) => m.total_score],
    ...dims.map((d) => [d, dimensionName(d), (m) => (m.dimensions ? m.dimensions[d] : null)])];
  // On a narrow screen the table scrolls sideways: it opens on the latest months.
  const wrap = h('div', { class: 'trend-table-wrap', tabindex: '0', role: 'region', 'aria-label': t('trend.figures') },
    h('table', { class: 'trend-table' },
      h('caption', { class: 'visually-hidden' }, t('trend.figures')),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('trend.series')),
        items.map((m) => h('th', { scope: 'col', 'data-period': m.period, class: !m.frozen && 'trend-col-open' },
          h('abbr', { title: longMonth(m.period) }, shortMonth(m.period)),
          m.frozen || m.live ? h('span', { class: 'trend-col-state' }, t(m.frozen ? 'trend.col.frozen' : 'trend.col.live')) : null)))),
      h('tbody', {}, series.map(([key, name, value]) => h('tr', { 'data-series': key },
        h('th', { scope: 'row' }, name),
        items.map((m) => h('td', { 'data-period': m.period }, exact(value(m)))))))));
  requestAnimationFrame(() => { wrap.scrollLeft = wrap.scrollWidth; });
  return wrap;
}

/**
 * The trend as a card: `items` as the history route returns them (oldest first, the
 * current month last). `id` names the heading (one trend per screen). Null when empty.
 */
export function trendCard(items, { id = 'trend', order = [] } = {}) {
  if (!items || !items.length) return null;
  const dims = dimensionsOf(items, order);
  const anyTotal = items.some((m) => has(m.total_score));
  return h('section', { class: 'card trend', 'aria-labelledby': id },
    h('h2', { id }, t('trend.title', { n: items.length })),
    totalChart(items),
    anyTotal ? null : h('p', { class: 'meta' }, t('trend.no_total')),
    h('p', { class: 'trend-keys meta' },
      h('span', { class: 'trend-key trend-key-total' }, t('trend.key.total')), h('span', { class: 'trend-key trend-key-pass' }, t('trend.key.pass')),
      h('span', { class: 'trend-key trend-key-frozen' }, t('trend.key.frozen')), h('span', { class: 'trend-key trend-key-live' }, t('trend.key.live'))),
    dims.length ? [h('h3', { class: 'section-title' }, t('trend.dims')), h('ul', { class: 'trend-dims' }, dims.map((d) => dimensionChart(items, d)))] : null,
    figuresTable(items, dims));
}
