// @ts-check
/**
 * The list of snapshot and save cards, newest first. Cards are keyed by id: a refresh rebuilds
 * only the cards whose record changed and inserts new ones in place, so focus, open notes and
 * scroll position survive live updates.
 */
import { h } from './dom.js';
import { cardMetrics, displayName, exactTime, firstLine, formatBytes, formatMetric, iterationBadge, kindLabel, relativeTime, trainerText } from './format.js';
import { LOCATIONS } from './remote.js';

/**
 * @typedef {object} CardActions
 * @property {(r: any) => void} restore
 * @property {(r: any) => void} remove
 * @property {(r: any) => void} togglePin
 * @property {(r: any) => void} edit
 * @property {(r: any) => void} pull  copy a remote-only snapshot into the local store
 * @property {(r: any) => void} push  send a local record to the remote
 * @property {(id: string) => void} select
 */

/** @type {WeakMap<HTMLElement, string>} */
const versions = new WeakMap();

/**
 * Brings `list` (an `<ol>`) in line with `records`.
 * @param {HTMLElement} list
 * @param {any[]} records
 * @param {{now: number, selectedId: string | null, remoteReachable: boolean, actions: CardActions}} o
 */
export function renderCards(list, records, o) {
  /** @type {Map<string, HTMLElement>} */
  const existing = new Map();
  for (const li of /** @type {HTMLElement[]} */ ([...list.children])) existing.set(li.dataset.id ?? '', li);
  const wanted = new Set(records.map((r) => r.id));
  for (const [id, li] of existing) if (!wanted.has(id)) li.remove();

  records.forEach((r, i) => {
    const version = `${o.remoteReachable}${JSON.stringify(r)}`;
    let li = existing.get(r.id);
    if (!li || versions.get(li) !== version) {
      const fresh = card(r, o.now, o.remoteReachable, o.actions);
      versions.set(fresh, version);
      if (li) {
        const focusedAction = /** @type {HTMLElement | null} */ (li.querySelector(':focus'))?.dataset.action;
        const open = /** @type {HTMLDetailsElement | null} */ (li.querySelector('details'))?.open;
        const details = /** @type {HTMLDetailsElement | null} */ (fresh.querySelector('details'));
        if (open && details) details.open = true;
        li.replaceWith(fresh);
        if (focusedAction) /** @type {HTMLElement | null} */ (fresh.querySelector(`[data-action="${focusedAction}"]`))?.focus();
      }
      li = fresh;
    }
    li.classList.toggle('selected', r.id === o.selectedId);
    if (r.id === o.selectedId) li.querySelector('article')?.setAttribute('aria-current', 'true');
    else li.querySelector('article')?.removeAttribute('aria-current');
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
  });
  updateTimes(list, o.now);
}

/**
 * Refreshes every "2 hours ago".
 * @param {HTMLElement} list
 * @param {number} now
 */
export function updateTimes(list, now) {
  for (const t of list.querySelectorAll('time[datetime]')) t.textContent = relativeTime(t.getAttribute('datetime') ?? '', now);
}

/**
 * A record's card. `r.location` (only when the run has a remote) says where it lives: a remote-only
 * one can be restored from the remote or pulled, nothing else; a local-only one can be pushed while
 * the remote answers.
 * @param {any} r
 * @param {number} now
 * @param {boolean} remoteReachable
 * @param {CardActions} a
 */
function card(r, now, remoteReachable, a) {
  const titleId = `card-title-${r.id}`;
  const badge = iterationBadge(r);
  const metrics = Object.entries(cardMetrics(r));
  const notes = firstLine(r.notes);
  const isSave = r.kind === 'save';
  const sharedNote = r.own_bytes < r.bytes ? ' (the rest is shared with other snapshots by hard links)' : '';
  /** @type {{label: string, title: string} | undefined} */
  const where = r.location ? /** @type {Record<string, {label: string, title: string}>} */ (LOCATIONS)[r.location] : undefined;
  const remoteOnly = r.location === 'remote';
  const button = (/** @type {string} */ action, /** @type {string} */ label, /** @type {() => void} */ onclick, extra = {}) =>
    h('button', { type: 'button', class: 'btn small', 'data-action': action, onclick, 'aria-describedby': titleId, ...extra }, label);

  const notesEl = !r.notes
    ? null
    : notes.rest !== ''
      ? h('details', { class: 'notes' }, h('summary', {}, notes.first || '(notes)'), h('p', {}, notes.rest))
      : h('p', { class: 'notes' }, notes.first);

  const article = h(
    'article',
    { class: `card kind-${r.kind}${r.damaged ? ' damaged' : ''}`, 'aria-labelledby': titleId, tabindex: '-1', id: `card-${r.id}` },
    h(
      'header',
      { class: 'card-head' },
      h('span', { class: `kind-chip kind-${r.kind}` }, kindLabel(r.kind)),
      h('h3', { id: titleId, class: r.name ? '' : 'auto-name' }, displayName(r)),
      where ? h('span', { class: `where where-${r.location}`, title: where.title }, where.label) : null,
      r.pinned ? h('span', { class: 'pin-mark', title: 'Pinned: never deleted automatically' }, pinIcon(), 'Pinned') : null,
      h('time', { datetime: r.created, title: exactTime(r.created) }, relativeTime(r.created, now)),
    ),
    h(
      'div',
      { class: 'card-badges' },
      badge ? h('span', { class: 'iter-badge' }, badge) : null,
      ...metrics.map(([k, v]) => h('span', { class: `metric${k === 'loss' ? ' loss' : ''}` }, h('span', { class: 'metric-key' }, k), ' ', formatMetric(v))),
    ),
    notesEl,
    r.damaged ? h('p', { class: 'damaged-note', role: 'note' }, 'Damaged: it failed `ckptd verify`; it is never restored or linked from without --force.') : null,
    leftOutNote('skipped-note', 'Incomplete, left out: ', r.skipped),
    leftOutNote('left-out-note', 'Not captured: ', r.left_out),
    h(
      'div',
      { class: 'card-foot' },
      h(
        'span',
        { class: 'sizes' },
        h('span', { title: 'Apparent size: all its files' }, formatBytes(r.bytes)),
        remoteOnly ? null : h('span', { class: 'own', title: `Own: what deleting only this ${isSave ? 'save' : 'snapshot'} frees${sharedNote}` }, `own ${formatBytes(r.own_bytes)}`),
      ),
      r.model_type ? h('span', { class: 'model-type', title: trainerText(r) ?? 'Model type' }, r.model_type) : null,
      h('code', { class: 'rec-id', title: isSave ? r.path : r.trigger ? `Taken because: ${r.trigger}` : '' }, r.id),
      h(
        'span',
        { class: 'card-actions' },
        isSave ? null : button('restore', 'Restore', () => a.restore(r)),
        remoteOnly && !isSave ? button('pull', 'Pull', () => a.pull(r), { title: 'Copy it from the remote into the local store (every file verified)' }) : null,
        r.location === 'local' && remoteReachable ? button('push', 'Push', () => a.push(r), { title: 'Send it to the remote now' }) : null,
        remoteOnly ? null : button('pin', r.pinned ? 'Unpin' : 'Pin', () => a.togglePin(r), { 'aria-pressed': String(r.pinned) }),
        remoteOnly ? null : button('edit', 'Edit', () => a.edit(r)),
        remoteOnly ? null : button('delete', 'Delete', () => a.remove(r), { class: 'btn small danger-text' }),
      ),
    ),
  );
  article.addEventListener('click', (e) => {
    const target = /** @type {HTMLElement} */ (e.target);
    if (!target.closest('button, summary, a, code')) a.select(r.id);
  });
  return h('li', { dataset: { id: r.id } }, article);
}

/**
 * A note naming files a snapshot does not hold and why (`skipped`: it is incomplete; `left_out`:
 * names no snapshot can hold), or null when there are none.
 * @param {string} cls
 * @param {string} lead
 * @param {{ path: string, reason: string }[] | undefined} items
 */
function leftOutNote(cls, lead, items) {
  if (!items || items.length === 0) return null;
  return h('p', { class: cls, role: 'note' }, lead + items.map((i) => `${i.path} (${i.reason})`).join(', '));
}

function pinIcon() {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  p.setAttribute('d', 'M10.5 1.5l4 4-2 1-3 3 .5 3.5-1.5 1.5-3-3-3.5 3.5-.5-.5L5 11 2 8l1.5-1.5L7 7l3-3z');
  svg.append(p);
  return svg;
}
