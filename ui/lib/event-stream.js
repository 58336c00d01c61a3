// @ts-check
/**
 * The server's event stream read with `fetch()`, so that each request carries the access token in
 * a header (`EventSource` cannot send one). It keeps EventSource's behaviour: the event stream
 * framing of the HTML standard (`event:`, `data:` lines joined by newlines, `retry:`, `:` comments,
 * a blank line ending each event, lines ending in CRLF, LF or CR; `id:` is not used by the panel
 * and ignored), and reconnection: a dropped stream or a network error is retried after the
 * server's `retry:` time, doubled after each failure in a row up to 30 s; an answer other than
 * 200 `text/event-stream` (a refused token) ends it for good.
 */

/** @typedef {{type: string, data: string}} StreamEvent */
/** @typedef {'live' | 'reconnecting' | 'closed'} StreamState */

/** Turns the text of an event stream, chunk by chunk, into events. */
export class EventStreamParser {
  constructor() {
    this.rest = '';
    this.type = '';
    /** @type {string[]} */
    this.data = [];
    /** The reconnection time the server asked for (ms), or null. */
    this.retry = /** @type {number | null} */ (null);
  }

  /**
   * Reads the next chunk of decoded text; returns the events it completed.
   * @param {string} text
   * @returns {StreamEvent[]}
   */
  feed(text) {
    const buf = this.rest + text;
    /** @type {StreamEvent[]} */
    const out = [];
    const eol = /\r\n|\r|\n/g;
    let start = 0;
    for (let m = eol.exec(buf); m !== null; m = eol.exec(buf)) {
      // A CR that ends the chunk may be the first half of a CRLF.
      if (m[0] === '\r' && m.index === buf.length - 1) break;
      this.line(buf.slice(start, m.index), out);
      start = eol.lastIndex;
    }
    this.rest = buf.slice(start);
    return out;
  }

  /**
   * @param {string} line
   * @param {StreamEvent[]} out
   */
  line(line, out) {
    if (line === '') {
      if (this.data.length > 0) out.push({ type: this.type || 'message', data: this.data.join('\n') });
      this.type = '';
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
  }
}

/** Longest wait between two attempts. */
const MAX_DELAY_MS = 30_000;

/**
 * Listens to the event stream at `url`, sending `headers` on every (re)connection. `onEvent` hears
 * each event; `onState` hears `live` (connected), `reconnecting` (dropped: it retries by itself) or
 * `closed` (refused: it stops). Returns the function that stops listening.
 * @param {string} url
 * @param {{headers: Record<string, string>, onEvent: (e: StreamEvent) => void, onState: (s: StreamState) => void, retryMs?: number}} o
 * @returns {() => void}
 */
export function connectEvents(url, o) {
  const abort = new AbortController();
  let retryMs = o.retryMs ?? 2000;
  let failures = 0;
  let timer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);

  const connect = async () => {
    const parser = new EventStreamParser();
    try {
      const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...o.headers }, cache: 'no-store', credentials: 'omit', signal: abort.signal });
      if (res.status !== 200 || !res.body || !/^text\/event-stream\b/i.test(res.headers.get('content-type') ?? '')) {
        void res.body?.cancel();
        o.onState('closed');
        return;
      }
      failures = 0;
      o.onState('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        for (const e of parser.feed(chunk.value)) deliver(o.onEvent, e);
      }
    } catch {
      // A network error or a stream cut: retried below, as EventSource does.
    }
    if (abort.signal.aborted) return;
    if (parser.retry !== null) retryMs = parser.retry;
    failures += 1;
    o.onState('reconnecting');
    timer = setTimeout(() => void connect(), Math.min(MAX_DELAY_MS, retryMs * 2 ** (failures - 1)));
  };
  void connect();
  return () => {
    abort.abort();
    clearTimeout(timer);
  };
}

/**
 * Hands `e` to `f`; an error thrown there is reported as an uncaught one (as from an EventSource
 * listener) instead of ending the stream.
 * @param {(e: StreamEvent) => void} f
 * @param {StreamEvent} e
 */
function deliver(f, e) {
  try {
    f(e);
  } catch (err) {
    setTimeout(() => {
      throw err;
    });
  }
}
