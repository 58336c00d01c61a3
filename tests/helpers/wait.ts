/** Waiting for a condition in a test, with a timeout that fails naming what did not happen. */

/** Resolves once `pred()` holds (checked every `everyMs`); rejects after `timeoutMs` with `what` in the message. */
export async function waitUntil(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 10): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
