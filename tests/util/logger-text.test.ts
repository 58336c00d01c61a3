/**
 * The text log (the daemon's default, and what the journal stores) is one line per entry: a field
 * holding a file name from the run (a newline, an escape sequence) must not forge a line or drive
 * the terminal. Such a field is written as a JSON string; plain ones stay bare (`path=a.bin`).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/daemon-process.js';

/** What a text logger writes to stdout for one warning with `fields`. */
function textLine(message: string, fields: Record<string, unknown>): string {
  const logger = path.join(ROOT, 'dist', 'src', 'util', 'logger.js');
  const code = `import { createLogger } from ${JSON.stringify(logger)};
const l = createLogger({ level: 'info', format: 'text', file: null }, { journal: false });
l.warn(${JSON.stringify(message)}, ${JSON.stringify(fields)});
await l.close();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe('text log fields', () => {
  it('a field with a newline or escape is quoted and escaped, so the entry stays one line', () => {
    const out = textLine('left out a file', { event: 'skipped', path: 'big\n2026-01-01T00:00:00.000Z error forged\u001b[31m.bin' });
    expect(out.trimEnd().split('\n')).toHaveLength(1);
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(out).toContain('path="big\\n2026-01-01T00:00:00.000Z error forged\\u001b[31m.bin"');
  });

  it('plain fields stay bare', () => {
    expect(textLine('left out a file', { event: 'skipped', path: 'ok dir/a.bin' })).toMatch(/ event=skipped path=ok dir\/a\.bin\n$/);
  });
});
