// @ts-check
/**
 * What the buttons do: create a snapshot, restore, delete, pin/unpin, edit, and with a remote pull
 * and push. Restore and delete
 * first show what they will do (from the server's previews: files to write and remove, bytes
 * freed) in a confirmation dialog; the refusal of a restore while the trainer writes (the CLI's
 * exit 3) is shown in that dialog with its reason.
 */
import { post, get, runPath, ApiError } from './api.js';
import { detailsList, openDialog } from './dialog.js';
import { h } from './dom.js';
import { displayName, exactTime, formatBytes, formatMetric, iterationBadge, kindLabel, metricsOf, trainerText } from './format.js';

/**
 * @typedef {object} Panel
 * @property {() => string} run  the run shown
 * @property {(message: string, tone?: 'ok' | 'error') => void} toast
 * @property {(id: string) => void} select
 * @property {() => Promise<void>} reload
 * @property {(listener: (e: any) => void) => () => void} onOp  hears `op` events; returns the unsubscribe
 */

/** @param {any} err */
function describeError(err) {
  if (err instanceof ApiError && err.refused) return `Refused: ${err.message}`;
  if (err instanceof ApiError && err.status === 401) return 'The panel no longer accepts this page: open the URL that `ckptd ui` printed.';
  return `Failed: ${err?.message ?? err}`;
}

/**
 * The rows every confirmation shows about a record.
 * @param {any} r
 */
function recordRows(r) {
  const metrics = Object.entries(metricsOf(r)).map(([k, v]) => `${k} ${formatMetric(v)}`).join(', ');
  /** @type {[string, string | Node | null][]} */
  const rows = [
    ['Kind', kindLabel(r.kind) + (r.pinned ? ' · pinned' : '')],
    ['Progress', iterationBadge(r)],
    ['Metrics', metrics || null],
    ['Trainer', trainerText(r)],
    ['Created', exactTime(r.created)],
    ['Size', `${formatBytes(r.bytes)}${r.file_count !== undefined ? ` in ${r.file_count} file(s)` : ''}`],
    ['Notes', r.notes ? h('span', { class: 'pre' }, r.notes) : null],
    ['Id', h('code', {}, r.id)],
  ];
  return rows;
}

/**
 * A list of paths, at most `max` shown.
 * @param {{path: string, size: number}[]} files
 * @param {number} [max]
 */
function fileList(files, max = 8) {
  return h(
    'ul',
    { class: 'file-list' },
    ...files.slice(0, max).map((f) => h('li', {}, h('code', {}, f.path), h('span', { class: 'muted' }, ` ${formatBytes(f.size)}`))),
    files.length > max ? h('li', { class: 'muted' }, `… and ${files.length - max} more`) : null,
  );
}

/** @param {Panel} p */
export function createSnapshot(p) {
  const run = p.run();
  /** @type {HTMLInputElement} */
  let name;
  /** @type {HTMLTextAreaElement} */
  let notes;
  /** @type {HTMLInputElement} */
  let pin;
  return openDialog({
    title: 'Create a snapshot',
    confirmLabel: 'Create snapshot',
    className: 'form-dialog',
    describeError,
    load: async () => {
      name = /** @type {HTMLInputElement} */ (h('input', { id: 'new-name', name: 'name', maxlength: '200', autocomplete: 'off', placeholder: 'e.g. epoch 12 baseline', autofocus: true }));
      notes = /** @type {HTMLTextAreaElement} */ (h('textarea', { id: 'new-notes', name: 'notes', rows: '4', maxlength: '10000', placeholder: 'What is special about this state? (optional)' }));
      pin = /** @type {HTMLInputElement} */ (h('input', { id: 'new-pin', type: 'checkbox', name: 'pinned' }));
      return [
        h('p', { class: 'muted' }, `A manual snapshot of the run "${run}" as it is now. ckptd waits until the trainer has finished writing, as \`ckptd snapshot\` does.`),
        h('label', { for: 'new-name' }, 'Name'),
        name,
        h('label', { for: 'new-notes' }, 'Notes'),
        notes,
        h('label', { class: 'check' }, pin, ' Pin it (never deleted automatically)'),
      ];
    },
    onConfirm: async (ctx) => {
      ctx.progress('Waiting for the run to settle, then taking the snapshot…');
      const r = await post(`${runPath(run)}/snapshots`, { name: name.value, notes: notes.value, pinned: pin.checked });
      p.toast(`Snapshot ${name.value.trim() ? `"${name.value.trim()}" ` : ''}taken (${r.id}).`);
      await p.reload();
      p.select(r.id);
      return r;
    },
  });
}

/**
 * @param {Panel} p
 * @param {any} rec
 */
export function restore(p, rec) {
  const run = p.run();
  let fromRemote = false;
  /** The folder the preview showed: the server refuses the restore if the run's folder is another by then. */
  let target = '';
  return openDialog({
    title: `Restore “${displayName(rec)}”?`,
    confirmLabel: 'Restore',
    danger: true,
    className: 'restore-dialog',
    describeError,
    load: async (ctx) => {
      const pv = await get(`${runPath(run, rec.id)}/restore-preview`);
      fromRemote = pv.from === 'remote';
      target = pv.target;
      const nothing = pv.write.length === 0 && pv.remove.length === 0;
      // As the CLI: a snapshot that failed `ckptd verify` is restored only with --force, from the command line.
      ctx.allowConfirm(!pv.record.damaged);
      return [
        detailsList(recordRows(pv.record)),
        pv.record.damaged
          ? h('div', { class: 'dlg-error', role: 'alert' }, `Refused: this snapshot failed \`ckptd verify\`; restore it with \`ckptd restore ${pv.record.id} --force\` only if you know what you need from it.`)
          : null,
        h(
          'div',
          { class: 'warning' },
          h('p', {}, h('strong', {}, 'This replaces the run’s files in '), h('code', {}, pv.target), h('strong', {}, ':')),
          nothing
            ? h('p', {}, `The run already matches this snapshot by size and time; its ${pv.same} file(s) are checked by hash and rewritten only if they differ.`)
            : null,
          pv.write.length > 0 ? h('p', { class: 'plan-line' }, `${pv.write.length} file(s) to write (${formatBytes(pv.write_bytes)}):`) : null,
          pv.write.length > 0 ? fileList(pv.write) : null,
          pv.remove.length > 0 ? h('p', { class: 'plan-line' }, `${pv.remove.length} file(s) to remove:`) : null,
          pv.remove.length > 0 ? fileList(pv.remove) : null,
          !nothing && pv.same > 0 ? h('p', { class: 'plan-line' }, `${pv.same} file(s) that look the same (checked by hash).`) : null,
          fromRemote ? h('p', { class: 'from-remote' }, 'This snapshot is only on the remote: its files are downloaded from there, each checked against its sha256.') : null,
          h('p', {}, 'The current state is kept first as a pre-restore snapshot, so you can go back. A restore is refused while the trainer is writing.'),
        ),
      ];
    },
    onConfirm: async (ctx) => {
      ctx.progress(`Restoring${fromRemote ? ' from the remote' : ''}… (keeping the current state as a pre-restore snapshot first)`);
      const off = followProgress(p, ctx, 'restore', rec.id, fromRemote ? 'Restoring from the remote…' : 'Restoring…');
      try {
        const r = await post(`${runPath(run, rec.id)}/restore`, { target });
        const n = r.written?.length ?? 0;
        p.toast(`Restored “${displayName(rec)}”: ${n} file(s) written${r.removed?.length ? `, ${r.removed.length} removed` : ''}.${r.pre_restore ? ` The previous state is snapshot ${r.pre_restore}.` : ''}`);
        await p.reload();
        return r;
      } finally {
        off();
      }
    },
  });
}

/**
 * Shows the progress the server announces for operation `op` of record `id` in the dialog; returns the unsubscribe.
 * @param {Panel} p
 * @param {import('./dialog.js').DialogContext} ctx
 * @param {string} op
 * @param {string} id
 * @param {string} label
 */
function followProgress(p, ctx, op, id, label) {
  return p.onOp((e) => {
    if (e.op === op && e.id === id && e.state === 'progress' && e.total > 0) {
      ctx.progress(`${label} ${Math.floor((100 * e.done) / e.total)}% (${formatBytes(e.done)} of ${formatBytes(e.total)})`, e.done / e.total);
    }
  });
}

/**
 * Pull (a snapshot only on the remote, into the local store) or push (a local record, to the
 * remote), after a confirmation that says what moves where; its progress shows in the dialog.
 * @param {Panel} p
 * @param {any} rec
 * @param {'pull' | 'push'} op
 */
export function transfer(p, rec, op) {
  const run = p.run();
  const pull = op === 'pull';
  return openDialog({
    title: `${pull ? 'Pull' : 'Push'} “${displayName(rec)}”?`,
    confirmLabel: pull ? 'Pull' : 'Push',
    className: 'transfer-dialog',
    describeError,
    load: async () => [
      detailsList(recordRows(rec)),
      h(
        'p',
        {},
        pull
          ? `Copies its ${formatBytes(rec.bytes)} from the remote into this machine's store, each file checked against its sha256. The run's files are not touched.`
          : `Sends it to the remote now (files the remote holds already are not sent again), so it survives this machine.`,
      ),
    ],
    onConfirm: async (ctx) => {
      ctx.progress(pull ? 'Pulling…' : 'Pushing…');
      const off = followProgress(p, ctx, op, rec.id, pull ? 'Pulling…' : 'Pushing…');
      try {
        const r = await post(`${runPath(run, rec.id)}/${op}`);
        if (pull) p.toast(`Pulled “${displayName(rec)}” into the local store (${formatBytes(r.bytes ?? rec.bytes)}, every file verified).`);
        else if (r.failed) throw new Error(`push of ${r.failed.id} failed: ${r.failed.error}; it stays queued and is tried again`);
        else p.toast(r.pushed?.some((/** @type {any} */ x) => x.id === rec.id) ? `Pushed “${displayName(rec)}” to the remote.` : r.message);
        await p.reload();
        return r;
      } finally {
        off();
      }
    },
  });
}

/**
 * @param {Panel} p
 * @param {any} rec
 */
export function remove(p, rec) {
  const run = p.run();
  return openDialog({
    title: `Delete “${displayName(rec)}”?`,
    confirmLabel: 'Delete',
    danger: true,
    className: 'delete-dialog',
    describeError,
    load: async (ctx) => {
      const pv = await get(`${runPath(run, rec.id)}/delete-preview`);
      ctx.allowConfirm(pv.refused === null);
      return [
        detailsList(recordRows(pv.record)),
        pv.refused !== null
          ? h('div', { class: 'dlg-error', role: 'alert' }, `Refused: ${pv.refused}`)
          : h(
              'div',
              { class: 'warning' },
              h('p', {}, `Deleting it frees ${formatBytes(pv.freed_bytes)}`, pv.freed_bytes < pv.record.bytes ? ' (files it shares with other snapshots stay).' : '.'),
              rec.kind === 'save' ? h('p', {}, 'The exported model file ', h('code', {}, pv.record.path), ' is deleted with its record.') : null,
              rec.pinned ? h('p', {}, 'It is pinned.') : null,
              h('p', {}, 'This cannot be undone.'),
            ),
      ];
    },
    onConfirm: async (ctx) => {
      ctx.progress('Deleting…');
      const r = await post(`${runPath(run, rec.id)}/delete`);
      p.toast(`Deleted “${displayName(rec)}”; freed ${formatBytes(r.freed_bytes ?? 0)}.`);
      await p.reload();
      return r;
    },
  });
}

/**
 * @param {Panel} p
 * @param {any} rec
 */
export async function togglePin(p, rec) {
  try {
    await post(`${runPath(p.run(), rec.id)}/labels`, { pinned: !rec.pinned });
    p.toast(`${rec.pinned ? 'Unpinned' : 'Pinned'} “${displayName(rec)}”.`);
    await p.reload();
  } catch (err) {
    p.toast(describeError(err), 'error');
  }
}

/**
 * @param {Panel} p
 * @param {any} rec
 */
export function edit(p, rec) {
  const run = p.run();
  /** @type {HTMLInputElement} */
  let name;
  /** @type {HTMLTextAreaElement} */
  let notes;
  return openDialog({
    title: `Edit ${kindLabel(rec.kind).toLowerCase()} ${rec.id}`,
    confirmLabel: 'Save',
    className: 'form-dialog',
    describeError,
    load: async () => {
      name = /** @type {HTMLInputElement} */ (h('input', { id: 'edit-name', maxlength: '200', autocomplete: 'off', placeholder: displayName({ ...rec, name: null }), autofocus: true }));
      name.value = rec.name ?? '';
      notes = /** @type {HTMLTextAreaElement} */ (h('textarea', { id: 'edit-notes', rows: '6', maxlength: '10000' }));
      notes.value = rec.notes ?? '';
      return [h('label', { for: 'edit-name' }, 'Name'), name, h('label', { for: 'edit-notes' }, 'Notes'), notes, h('p', { class: 'muted small' }, 'Leave a field empty to clear it.')];
    },
    onConfirm: async () => {
      /** @type {Record<string, string>} */
      const change = {};
      if (name.value !== (rec.name ?? '')) change.name = name.value;
      if (notes.value !== (rec.notes ?? '')) change.notes = notes.value;
      if (Object.keys(change).length === 0) return null;
      const r = await post(`${runPath(run, rec.id)}/labels`, change);
      p.toast(`Saved “${displayName({ ...rec, name: r.name })}”.`);
      await p.reload();
      return r;
    },
  });
}
