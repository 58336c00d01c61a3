// @ts-check
/**
 * The Version panel page: picks a run, shows its snapshots and saves as cards beside a metric
 * chart and the store's usage, and keeps all of it live from the server's event stream (a record
 * made, deleted or edited anywhere — daemon, CLI, another tab — shows without a reload).
 */
import * as actions from './lib/actions.js';
import { ApiError, get, hasToken, listen, runPath } from './lib/api.js';
import { renderCards, updateTimes } from './lib/cards.js';
import { remotePill } from './lib/remote.js';
import { metricNames, renderChart, xFieldOf } from './lib/chart.js';
import { byId, h } from './lib/dom.js';
import { renderStorage } from './lib/storage.js';

const state = {
  /** @type {{name: string, path: string, store: string}[]} */
  runs: [],
  /** @type {string | null} */
  run: null,
  /** @type {any} */
  data: null,
  metric: 'loss',
  /** @type {string | null} */
  selectedId: null,
  /** @type {Set<(e: any) => void>} */
  opListeners: new Set(),
  /** Operations running on the shown run (from any page or tab), by op + id. */
  busy: new Map(),
};

const el = {
  runPicker: byId('run-picker'),
  runSelect: /** @type {HTMLSelectElement} */ (byId('run-select')),
  runPath: byId('run-path'),
  daemon: byId('daemon-pill'),
  remote: byId('remote-pill'),
  remoteNotice: byId('remote-notice'),
  failingNotice: byId('failing-notice'),
  live: byId('live-pill'),
  busy: byId('busy-pill'),
  create: byId('create-btn'),
  cards: byId('cards'),
  count: byId('count'),
  empty: byId('empty'),
  chart: byId('chart'),
  chartTitle: byId('chart-title'),
  metric: /** @type {HTMLSelectElement} */ (byId('metric-select')),
  storage: byId('storage'),
  toasts: byId('toasts'),
  error: byId('load-error'),
};

/** @type {import('./lib/actions.js').Panel} */
const panel = {
  run: () => state.run ?? '',
  toast,
  select,
  reload: () => load(),
  onOp(listener) {
    state.opListeners.add(listener);
    return () => state.opListeners.delete(listener);
  },
};

/**
 * @param {string} message
 * @param {'ok' | 'error'} [tone]
 */
function toast(message, tone = 'ok') {
  const t = h('div', { class: `toast ${tone}`, role: tone === 'error' ? 'alert' : 'status' }, message);
  el.toasts.append(t);
  setTimeout(() => t.classList.add('leaving'), tone === 'error' ? 9000 : 5000);
  setTimeout(() => t.remove(), tone === 'error' ? 9600 : 5600);
}

/**
 * Selects a record: highlights its card and its chart point, and brings the card into view.
 * @param {string} id
 */
function select(id) {
  state.selectedId = id;
  render();
  const card = document.getElementById(`card-${id}`);
  if (card) {
    card.scrollIntoView({ block: 'nearest', behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
    if (!el.chart.contains(document.activeElement)) card.focus({ preventScroll: true });
  }
}

let loading = /** @type {Promise<void> | null} */ (null);
let again = false;

/** Fetches the shown run's records (one fetch at a time; a request meanwhile fetches once more after). */
async function load() {
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    do {
      again = false;
      const run = state.run;
      if (run === null) return;
      try {
        const data = await get(`${runPath(run)}/records`);
        if (run !== state.run) continue;
        state.data = data;
        el.error.hidden = true;
        render();
      } catch (err) {
        el.error.hidden = false;
        el.error.textContent = `Could not read the run's records: ${/** @type {Error} */ (err).message}`;
      }
    } while (again);
  })().finally(() => {
    loading = null;
  });
  return loading;
}

let reloadTimer = /** @type {ReturnType<typeof setTimeout> | null} */ (null);
function reloadSoon() {
  if (reloadTimer) clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => void load(), 120);
}

function render() {
  const d = state.data;
  if (!d) return;
  const records = d.records;
  el.runPath.textContent = d.run.path;
  el.runPath.title = `Store: ${d.run.store}`;
  el.daemon.textContent = d.daemon ? 'Daemon running' : 'No daemon';
  el.daemon.className = `pill ${d.daemon ? 'ok' : 'warn'}`;
  el.daemon.title = d.daemon
    ? 'A ckptd daemon holds this store: changes from this page go through it.'
    : 'No daemon holds this store: nothing is backed up by policy now; changes from this page run here under the store lock.';
  // The run's remote: the push status beside the daemon's, and why the remote's records are missing.
  el.remote.hidden = d.remote === null;
  if (d.remote !== null) {
    const pill = remotePill(d.remote, Date.now());
    el.remote.textContent = pill.text;
    el.remote.className = `pill ${pill.tone}`;
    el.remote.title = pill.title;
  }
  // The daemon's backups failing (its log is not where people look): the warning `ckptd status` gives.
  el.failingNotice.hidden = !d.failing;
  el.failingNotice.textContent = d.failing ? `Warning: ${d.failing}` : '';
  el.remoteNotice.hidden = !d.remote?.notice;
  el.remoteNotice.textContent = d.remote?.notice ?? '';
  const snapshots = records.filter((/** @type {any} */ r) => r.kind !== 'save').length;
  el.count.textContent = `${snapshots} snapshot(s), ${records.length - snapshots} save(s)`;
  el.empty.hidden = records.length > 0;

  renderCards(el.cards, records, {
    now: Date.now(),
    selectedId: state.selectedId,
    remoteReachable: d.remote?.reachable === true,
    actions: {
      pull: (r) => void actions.transfer(panel, r, 'pull'),
      push: (r) => void actions.transfer(panel, r, 'push'),
      restore: (r) => void actions.restore(panel, r),
      remove: (r) => void actions.remove(panel, r),
      togglePin: (r) => void actions.togglePin(panel, r),
      edit: (r) => void actions.edit(panel, r),
      select,
    },
  });

  const names = metricNames(records);
  if (!names.includes(state.metric) && names.length > 0) state.metric = names[0];
  const current = [...el.metric.options].map((o) => o.value).join('\n');
  if (current !== names.join('\n')) {
    el.metric.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
  }
  el.metric.value = state.metric;
  el.metric.disabled = names.length < 2;
  el.chartTitle.textContent = `${names.length > 0 ? state.metric : 'Loss'} over ${xFieldOf(records) === 'time' ? 'time' : `${xFieldOf(records)}s`}`;
  renderChart(el.chart, { records, metric: state.metric, selectedId: state.selectedId, onSelect: select });
  renderStorage(el.storage, { usage: d.usage, records, onSelect: select });
}

function renderBusy() {
  const ops = [...state.busy.values()];
  el.busy.hidden = ops.length === 0;
  const words = { restore: 'restoring…', snapshot: 'taking a snapshot…', delete: 'deleting…', label: 'saving labels…', pull: 'pulling…', push: 'pushing…' };
  el.busy.textContent = ops.map((o) => /** @type {Record<string, string>} */ (words)[o.op] ?? `${o.op}…`).join(', ');
}

/** @param {string} name */
async function showRun(name) {
  state.run = name;
  state.data = null;
  state.selectedId = null;
  state.busy.clear();
  renderBusy();
  el.runSelect.value = name;
  history.replaceState(null, '', `#run=${encodeURIComponent(name)}`);
  el.cards.replaceChildren();
  await load();
}

/**
 * Shows the runs the panel serves in the run picker; returns them and the server's choice.
 * @returns {Promise<{runs: any[], selected: string | null}>}
 */
async function loadRuns() {
  const { runs, selected } = await get('/api/runs');
  state.runs = runs;
  el.runSelect.replaceChildren(...runs.map((/** @type {any} */ r) => h('option', { value: r.name }, r.name)));
  el.runPicker.hidden = runs.length < 2;
  return { runs, selected };
}

/** The config's runs changed: keep showing the run if it is still there, else the first one. */
async function runsChanged() {
  const { runs, selected } = await loadRuns();
  const still = runs.find((/** @type {any} */ r) => r.name === state.run);
  if (still) {
    el.runSelect.value = still.name;
    reloadSoon();
  } else {
    const first = selected ?? runs[0]?.name;
    if (first) await showRun(first);
  }
}

/** What the page says when it cannot get in: the way in is the URL `ckptd ui` printed. */
const NO_TOKEN = 'This page has no access token: open the URL that `ckptd ui` printed (it ends in #token=…).';
const STALE_TOKEN = 'The panel did not take this page\'s access token (was `ckptd ui` restarted?): open the URL it printed.';

async function start() {
  const { runs, selected } = await loadRuns();
  el.runSelect.addEventListener('change', () => void showRun(el.runSelect.value));
  el.metric.addEventListener('change', () => {
    state.metric = el.metric.value;
    render();
  });
  el.create.addEventListener('click', () => void actions.createSnapshot(panel));

  listen({
    onState: (s) => {
      el.live.textContent = { live: 'Live', reconnecting: 'Reconnecting…', closed: 'Disconnected' }[s];
      el.live.className = `pill ${s === 'live' ? 'live' : 'warn'}`;
      el.live.title =
        s === 'closed' ? STALE_TOKEN : s === 'live' ? 'Changes show here as they happen.' : '';
      // Events may have been missed while the stream was down.
      if (s === 'live') reloadSoon();
    },
    records: (e) => {
      if (e.run === state.run) reloadSoon();
    },
    runs: () => {
      runsChanged().catch((err) => {
        el.error.hidden = false;
        el.error.textContent = `Could not read the panel's runs: ${err.message}`;
      });
    },
    op: (e) => {
      if (e.run !== state.run) return;
      const key = `${e.op}:${e.id}`;
      if (e.state === 'started' || e.state === 'progress') state.busy.set(key, e);
      else state.busy.delete(key);
      renderBusy();
      for (const l of state.opListeners) l(e);
    },
  });

  const fromHash = new URLSearchParams(location.hash.slice(1)).get('run');
  const first = runs.find((/** @type {any} */ r) => r.name === fromHash)?.name ?? selected ?? runs[0]?.name;
  if (first) await showRun(first);
  setInterval(() => updateTimes(el.cards, Date.now()), 30_000);
  let width = el.chart.clientWidth;
  new ResizeObserver(() => {
    if (el.chart.clientWidth !== width) {
      width = el.chart.clientWidth;
      render();
    }
  }).observe(el.chart);
}

/**
 * Says why the page shows nothing.
 * @param {string} message
 */
function cannotStart(message) {
  el.error.hidden = false;
  el.error.textContent = message;
  el.live.textContent = 'Disconnected';
  el.live.className = 'pill warn';
}

if (!hasToken()) cannotStart(NO_TOKEN);
else start().catch((err) => cannotStart(err instanceof ApiError && err.unauthorized ? STALE_TOKEN : `The panel could not start: ${err.message}`));
