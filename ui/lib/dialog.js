// @ts-check
/**
 * Modal dialogs on the native `<dialog>`: focus moves into it (and back to the button that opened
 * it afterwards), Escape cancels, the page behind is inert. A dialog may load its content first
 * (`load`), then runs its action (`onConfirm`) showing a busy state and progress; a failure is shown
 * inside the dialog (`role="alert"`), which stays open so the person can read it, retry or cancel.
 */
import { h } from './dom.js';

let counter = 0;

/**
 * @typedef {object} DialogContext
 * @property {(label: string, fraction?: number | null) => void} progress  show a busy line; fraction 0..1 or null (indeterminate)
 * @property {(enabled: boolean) => void} allowConfirm
 * @property {HTMLElement} content  the dialog's content element
 */

/**
 * Opens a modal dialog. Resolves with what `onConfirm` returned, or null when cancelled.
 * @template T
 * @param {object} o
 * @param {string} o.title
 * @param {string} o.confirmLabel
 * @param {boolean} [o.danger]  a destructive action: red button, and Cancel has the focus first
 * @param {string} [o.className]
 * @param {(ctx: DialogContext) => Promise<Node | (Node | null)[]>} o.load  builds the content (may fetch); nulls are left out
 * @param {(ctx: DialogContext) => Promise<T>} o.onConfirm  does the action; throwing keeps the dialog open with the message
 * @param {(err: any) => string} [o.describeError]
 * @returns {Promise<T | null>}
 */
export function openDialog(o) {
  const opener = /** @type {HTMLElement | null} */ (document.activeElement instanceof HTMLElement ? document.activeElement : null);
  const titleId = `dlg-title-${++counter}`;
  const content = h('div', { class: 'dlg-content' }, h('p', { class: 'muted' }, 'Loading…'));
  const error = h('div', { class: 'dlg-error', role: 'alert', tabindex: '-1', hidden: true });
  const bar = /** @type {HTMLProgressElement} */ (h('progress', { max: '1' }));
  const statusText = h('span', {});
  const status = h('div', { class: 'dlg-status', role: 'status', hidden: true }, bar, statusText);
  const cancel = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'btn', value: 'cancel' }, 'Cancel'));
  const confirm = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: `btn ${o.danger ? 'danger' : 'primary'}`, disabled: true }, o.confirmLabel));
  const form = h('form', { method: 'dialog' }, h('h2', { id: titleId }, o.title), content, error, status, h('div', { class: 'dlg-actions' }, cancel, confirm));
  const dialog = /** @type {HTMLDialogElement} */ (h('dialog', { class: `dialog ${o.className ?? ''}`, 'aria-labelledby': titleId }, form));
  document.body.append(dialog);

  let busy = false;
  let loaded = false;
  /** @type {DialogContext} */
  const ctx = {
    content,
    progress(label, fraction = null) {
      status.hidden = false;
      statusText.textContent = label;
      if (fraction === null) bar.removeAttribute('value');
      else bar.value = Math.max(0, Math.min(1, fraction));
    },
    allowConfirm(enabled) {
      confirm.disabled = !enabled || busy;
      confirm.dataset.allowed = String(enabled);
    },
  };
  const describe = o.describeError ?? ((err) => String(err?.message ?? err));
  const showError = (/** @type {any} */ err) => {
    error.hidden = false;
    error.textContent = describe(err);
  };

  return new Promise((resolve) => {
    /** @type {any} */
    let result = null;
    dialog.addEventListener('cancel', (e) => {
      if (busy) e.preventDefault();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    });
    cancel.addEventListener('click', () => {
      if (!busy) dialog.close();
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (busy || !loaded || confirm.disabled) return;
      busy = true;
      confirm.disabled = true;
      cancel.disabled = true;
      error.hidden = true;
      dialog.classList.add('busy');
      try {
        result = await o.onConfirm(ctx);
        busy = false;
        dialog.close();
      } catch (err) {
        busy = false;
        status.hidden = true;
        dialog.classList.remove('busy');
        cancel.disabled = false;
        confirm.disabled = confirm.dataset.allowed === 'false';
        showError(err);
        error.focus();
      }
    });

    dialog.showModal();
    if (o.danger) cancel.focus();
    o.load(ctx).then(
      (nodes) => {
        content.replaceChildren(...(Array.isArray(nodes) ? nodes : [nodes]).filter((n) => n !== null));
        loaded = true;
        if (confirm.dataset.allowed !== 'false') confirm.disabled = false;
        const first = /** @type {HTMLElement | null} */ (content.querySelector('[autofocus], input, textarea'));
        if (first && !o.danger) first.focus();
      },
      (err) => {
        content.replaceChildren();
        showError(err);
      },
    );
  });
}

/**
 * A definition list of label/value pairs (values that are null are left out).
 * @param {[string, string | Node | null][]} rows
 */
export function detailsList(rows) {
  return h(
    'dl',
    { class: 'details' },
    ...rows.filter(([, v]) => v !== null && v !== '').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, /** @type {string | Node} */ (v))]),
  );
}
