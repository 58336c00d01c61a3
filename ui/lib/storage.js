// @ts-check
/**
 * The storage panel: what the run's store takes on disk against its apparent size (unchanged
 * files are shared between snapshots as hard links), a bar of each record's own bytes (what
 * deleting it alone frees) beside the shared rest, and the records that own the most.
 */
import { h } from './dom.js';
import { displayName, formatBytes, kindLabel } from './format.js';

/**
 * @param {HTMLElement} container
 * @param {{usage: {records: number, disk_bytes: number, apparent_bytes: number}, records: any[], onSelect: (id: string) => void}} o
 */
export function renderStorage(container, o) {
  const { usage, records } = o;
  const disk = usage.disk_bytes;
  const saved = Math.max(0, usage.apparent_bytes - disk);
  const ownTotal = records.reduce((n, r) => n + r.own_bytes, 0);
  const shared = Math.max(0, disk - ownTotal);
  const pct = (/** @type {number} */ n) => (disk > 0 ? (100 * n) / disk : 0);

  const segments = records
    .filter((r) => r.own_bytes > 0)
    .map((r) =>
      h('span', {
        class: `seg kind-${r.kind}`,
        style: { width: `${pct(r.own_bytes).toFixed(3)}%` },
        title: `${displayName(r)} (${kindLabel(r.kind)}): owns ${formatBytes(r.own_bytes)}`,
      }),
    );
  if (shared > 0) segments.push(h('span', { class: 'seg shared', style: { width: `${pct(shared).toFixed(3)}%` }, title: `Shared by several records: ${formatBytes(shared)}` }));

  const top = [...records].sort((a, b) => b.own_bytes - a.own_bytes).slice(0, 5);
  const maxOwn = Math.max(1, ...top.map((r) => r.own_bytes));

  container.replaceChildren(
    h(
      'div',
      { class: 'usage-figures' },
      figure('On disk', formatBytes(disk)),
      figure('Apparent', formatBytes(usage.apparent_bytes)),
      figure('Saved by links', usage.apparent_bytes > 0 ? `${formatBytes(saved)} (${Math.round((100 * saved) / usage.apparent_bytes)}%)` : '0 B'),
    ),
    h('div', { class: 'usage-bar', role: 'img', 'aria-label': `Store on disk ${formatBytes(disk)}: ${formatBytes(ownTotal)} owned by single records, ${formatBytes(shared)} shared` }, ...segments),
    h('p', { class: 'muted small' }, `${usage.records} record(s). Own: what deleting only that record frees; files shared with others stay.`),
    top.length === 0
      ? ''
      : h(
          'ol',
          { class: 'own-list', 'aria-label': 'Records that own the most' },
          ...top.map((r) =>
            h(
              'li',
              {},
              h('button', { type: 'button', class: 'link', onclick: () => o.onSelect(r.id) }, displayName(r)),
              h('span', { class: 'own-bar', 'aria-hidden': 'true' }, h('span', { class: `kind-${r.kind}`, style: { width: `${((100 * r.own_bytes) / maxOwn).toFixed(2)}%` } })),
              h('span', { class: 'own-num' }, formatBytes(r.own_bytes)),
            ),
          ),
        ),
  );
}

/**
 * @param {string} label
 * @param {string} value
 */
function figure(label, value) {
  return h('div', { class: 'fig' }, h('span', { class: 'fig-label' }, label), h('span', { class: 'fig-value' }, value));
}
