/** Reading one small JSON/YAML file of a run through a `RunView`. */
import { parseDocument } from './parse-document.js';
import type { RunView } from './types.js';

/**
 * The parsed content of `relPath`, or null when it is missing, unreadable, too big for the view's
 * read cap, or does not parse (see `parseDocument`). Never rejects.
 */
export async function readDocument(view: RunView, relPath: string): Promise<unknown> {
  const text = await view.read(relPath);
  return text === null ? null : parseDocument(text, relPath);
}
