// @ts-check
/**
 * The metric chart: one metric (loss by default) over the run's steps, drawn as SVG. Each
 * snapshot or save with a value is a point (shaped and coloured by kind) that can be clicked, or
 * reached with Tab and the arrow keys and chosen with Enter, to select its card. A hand-drawn SVG
 * rather than a charting library: a run has tens to hundreds of points, the page then needs no
 * third-party code or build step, the points are real focusable elements with labels, and the
 * colours follow the page's light/dark theme through CSS.
 */
import { s } from './dom.js';
import { displayName, formatCompact, formatInt, formatMetric, kindLabel, metricsOf } from './format.js';

const HEIGHT = 260;
const PAD = { left: 52, right: 16, top: 14, bottom: 34 };

/**
 * Ticks at 1, 2 or 5 times a power of ten covering [lo, hi], about `count` of them.
 * @param {number} lo
 * @param {number} hi
 * @param {number} count
 */
export function niceTicks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((st) => st >= raw) ?? 10 * mag;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/**
 * Which x the chart uses: the step when any record has one, else the epoch, else the time.
 * @param {any[]} records
 * @returns {'step' | 'epoch' | 'time'}
 */
export function xFieldOf(records) {
  if (records.some((r) => typeof r.step === 'number')) return 'step';
  if (records.some((r) => typeof r.epoch === 'number')) return 'epoch';
  return 'time';
}

/**
 * Every metric any record has, `loss` first.
 * @param {any[]} records
 */
export function metricNames(records) {
  const names = new Set();
  for (const r of records) for (const k of Object.keys(metricsOf(r))) names.add(k);
  return [...names].sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : a.localeCompare(b)));
}

/**
 * Draws the chart into `container`.
 * @param {HTMLElement} container
 * @param {object} o
 * @param {any[]} o.records
 * @param {string} o.metric
 * @param {string | null} o.selectedId
 * @param {(id: string) => void} o.onSelect
 */
export function renderChart(container, o) {
  const xField = xFieldOf(o.records);
  const xOf = (/** @type {any} */ r) => (xField === 'time' ? Date.parse(r.created) : r[xField]);
  const points = o.records
    .map((r) => ({ r, x: xOf(r), y: metricsOf(r)[o.metric] }))
    .filter((p) => typeof p.x === 'number' && Number.isFinite(p.x) && typeof p.y === 'number')
    .sort((a, b) => a.x - b.x || Date.parse(a.r.created) - Date.parse(b.r.created));

  const hadFocus = container.contains(document.activeElement);
  container.replaceChildren();
  if (points.length === 0) {
    container.append(Object.assign(document.createElement('p'), { className: 'chart-empty muted', textContent: `No snapshot records ${o.metric} yet.` }));
    return;
  }
  const width = Math.max(260, Math.floor(container.clientWidth || 420));
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  let [x0, x1] = [points[0].x, points[points.length - 1].x];
  let y0 = Math.min(...points.map((p) => p.y));
  let y1 = Math.max(...points.map((p) => p.y));
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - Math.abs(y0 || 1) * 0.1, y1 + Math.abs(y1 || 1) * 0.1];
  const yPad = (y1 - y0) * 0.08;
  y0 -= yPad;
  y1 += yPad;
  const sx = (/** @type {number} */ x) => PAD.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (/** @type {number} */ y) => PAD.top + (1 - (y - y0) / (y1 - y0)) * plotH;

  const xLabel = xField === 'time' ? 'time' : xField;
  const svg = s('svg', {
    class: 'chart-svg',
    width,
    height: HEIGHT,
    viewBox: `0 0 ${width} ${HEIGHT}`,
    role: 'group',
    'aria-label': `${o.metric} over ${xLabel}: ${points.length} point(s); use the arrow keys to move between them`,
  });
  const grid = s('g', { class: 'grid' });
  for (const t of niceTicks(y0, y1, 5)) {
    grid.append(s('line', { x1: PAD.left, x2: width - PAD.right, y1: sy(t), y2: sy(t) }));
    grid.append(s('text', { x: PAD.left - 8, y: sy(t), class: 'tick y' }, formatCompact(t)));
  }
  const xTicks = xField === 'time' ? [] : niceTicks(x0, x1, Math.max(2, Math.floor(plotW / 90)));
  for (const t of xTicks) {
    grid.append(s('line', { x1: sx(t), x2: sx(t), y1: PAD.top, y2: HEIGHT - PAD.bottom, class: 'v' }));
    grid.append(s('text', { x: sx(t), y: HEIGHT - PAD.bottom + 16, class: 'tick x' }, formatCompact(t)));
  }
  grid.append(s('text', { x: width - PAD.right, y: HEIGHT - 4, class: 'axis-label' }, xLabel));
  svg.append(grid);

  const line = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
  svg.append(s('path', { d: line, class: 'series' }));

  const activeIndex = Math.max(0, points.findIndex((p) => p.r.id === o.selectedId));
  const marks = points.map((p, i) => {
    const cx = sx(p.x);
    const cy = sy(p.y);
    const where = xField === 'time' ? new Date(p.r.created).toLocaleString() : `${xField} ${formatInt(p.x)}`;
    const label = `${displayName(p.r)} (${kindLabel(p.r.kind)}): ${o.metric} ${formatMetric(p.y)} at ${where}`;
    const shape =
      p.r.kind === 'save'
        ? s('rect', { x: cx - 4.5, y: cy - 4.5, width: 9, height: 9, transform: `rotate(45 ${cx} ${cy})` })
        : s('circle', { cx, cy, r: 5 });
    const g = s(
      'g',
      {
        class: `pt kind-${p.r.kind}${p.r.id === o.selectedId ? ' selected' : ''}`,
        tabindex: i === activeIndex ? '0' : '-1',
        role: 'button',
        'aria-label': label,
        'data-id': p.r.id,
      },
      s('circle', { cx, cy, r: 11, class: 'halo' }),
      shape,
      s('title', {}, label),
    );
    g.addEventListener('click', () => o.onSelect(p.r.id));
    g.addEventListener('keydown', (e) => {
      const ev = /** @type {KeyboardEvent} */ (e);
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        o.onSelect(p.r.id);
        return;
      }
      const step = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1, Home: -Infinity, End: Infinity }[ev.key];
      if (step === undefined) return;
      ev.preventDefault();
      const next = Math.max(0, Math.min(points.length - 1, Number.isFinite(step) ? i + step : step > 0 ? points.length - 1 : 0));
      marks[i].setAttribute('tabindex', '-1');
      marks[next].setAttribute('tabindex', '0');
      /** @type {SVGElement} */ (marks[next]).focus();
    });
    return g;
  });
  svg.append(s('g', { class: 'points' }, ...marks));
  container.append(svg);
  if (hadFocus) /** @type {SVGElement} */ (marks[activeIndex]).focus();
}
