/**
 * Listens in the Version panel's page as the page itself does, for the end-to-end tests: through the
 * page's own `listen()` (its event stream read with fetch and the token header; `EventSource`
 * cannot send the header, so the server refuses it).
 */
import type { Page } from 'playwright-core';

export interface OpEvent {
  op: string;
  id: string;
  state: string;
  done?: number;
  total?: number;
}

/**
 * Starts recording every `op` event the page's server announces from now on. A string, not a
 * function: vitest rewrites `import()` in the test's own code, and this one must run in the page.
 */
export async function recordOps(page: Page): Promise<void> {
  await page.evaluate(`import('/assets/lib/api.js').then((api) => {
    const seen = (globalThis.opsSeen = []);
    return new Promise((live) => api.listen({ op: (e) => seen.push(e), records() {}, runs() {}, onState: (s) => s === 'live' && live() }));
  })`);
}

/** The `op` events recorded since `recordOps`. */
export async function opsSeen(page: Page): Promise<OpEvent[]> {
  return ((await page.evaluate('globalThis.opsSeen')) as OpEvent[] | undefined) ?? [];
}
