// @ts-check
/**
 * The panel's access token, as the page gets it: from the fragment of the URL `ckptd ui` printed
 * (`/#token=...`: a fragment never reaches a server, a Referer or a log), then from this tab's
 * `sessionStorage`, which no page of another origin (another port included) can read, so a reload
 * of the same tab keeps working after the token has left the address bar.
 */

const KEY = 'ckptd-token';

/**
 * @typedef {{
 *   location: {hash: string, pathname: string, search: string},
 *   history: {state: unknown, replaceState(data: unknown, unused: string, url: string): void},
 *   sessionStorage: {getItem(k: string): string | null, setItem(k: string, v: string): void},
 * }} TokenHost
 */

/**
 * Takes the token: from `#token=` in the address, which it stores in `sessionStorage` and removes
 * from the address bar and the tab's history entry (other fragment parameters, such as `run`,
 * stay); else the one this tab stored before. '' when there is none.
 * @param {TokenHost} [w] the window (a stand-in in tests)
 * @returns {string}
 */
export function takeToken(w = /** @type {TokenHost} */ (/** @type {unknown} */ (globalThis))) {
  const params = new URLSearchParams(w.location.hash.slice(1));
  const fromUrl = params.get('token');
  if (fromUrl === null) return stored(w) ?? '';
  params.delete('token');
  const rest = params.toString();
  w.history.replaceState(w.history.state, '', `${w.location.pathname}${w.location.search}${rest === '' ? '' : `#${rest}`}`);
  try {
    w.sessionStorage.setItem(KEY, fromUrl);
  } catch {
    // Storage turned off: the token serves this load only (a reload needs the printed URL again).
  }
  return fromUrl;
}

/**
 * @param {TokenHost} w
 * @returns {string | null}
 */
function stored(w) {
  try {
    return w.sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}
