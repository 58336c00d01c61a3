// @ts-check
/**
 * The run's remote in the panel (SPEC section 8): the push status as the header's pill (what is
 * queued, being sent, the last pushed, the newest error) and the words for where a record lives.
 */
import { exactTime, formatBytes, relativeTime } from './format.js';

/**
 * The header pill for the run's remote: text, tone and the details on hover.
 * @param {{url: string, reachable: boolean, push: {push: string, queued: number, bytes_pending: number, uploading: string | null, last_pushed: {id: string, at: string} | null, error: {id: string, message: string, next_try: string | null} | null}}} remote
 * @param {number} now
 * @returns {{text: string, tone: 'ok' | 'warn' | 'busy' | '', title: string}}
 */
export function remotePill(remote, now) {
  const p = remote.push;
  const lines = [`Remote: ${remote.url} (push ${p.push})`];
  if (p.queued > 0) lines.push(`${p.queued} queued (${formatBytes(p.bytes_pending)})${p.uploading ? `; sending ${p.uploading}` : ''}`);
  lines.push(p.last_pushed ? `Last pushed: ${p.last_pushed.id}, ${exactTime(p.last_pushed.at)}` : 'Nothing pushed yet');
  if (p.error) lines.push(`Push of ${p.error.id} failed: ${p.error.message}${p.error.next_try ? ` (next try ${exactTime(p.error.next_try)})` : ''}`);
  const title = lines.join('\n');
  if (p.error) return { text: `Push failed: ${p.error.id}`, tone: 'warn', title };
  if (p.uploading) return { text: `Pushing · ${p.queued} queued`, tone: 'busy', title };
  if (p.queued > 0) return { text: `${p.queued} queued to push`, tone: 'busy', title };
  if (p.last_pushed) return { text: `Pushed ${relativeTime(p.last_pushed.at, now)}`, tone: remote.reachable ? 'ok' : 'warn', title };
  return { text: 'Remote: nothing pushed yet', tone: remote.reachable ? '' : 'warn', title };
}

/** Where a record lives, as the card's chip says it and its hover explains it. */
export const LOCATIONS = {
  local: { label: 'Local', title: 'Only in the local store (not on the remote)' },
  remote: { label: 'Remote', title: 'Only on the remote: pull it to keep a local copy, or restore from the remote' },
  both: { label: 'Local + remote', title: 'In the local store and on the remote' },
};
