import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMPTY_RUN_STATE, type RunState } from '../../src/policy/types.js';
import { readRunState, writeFileAtomic, writeRunState } from '../../src/store/state-file.js';
import { tempDir } from './fixtures.js';

const STATE: RunState = {
  backup: { lastEpoch: 3, lastStep: 300, anchorAt: 1_700_000_000_000, changes: 2, lastDigest: 'abc' },
  save: { lastEpoch: null, lastStep: null, anchorAt: null, changes: 0, lastDigest: null },
};

describe('state file', () => {
  it('round-trips the run state and leaves no temp file', async () => {
    const store = await tempDir();
    await writeRunState(store, STATE);
    expect(await readRunState(store)).toEqual(STATE);
    expect(fs.readdirSync(store)).toEqual(['state.json']);
  });

  it('reads a missing file as the empty state', async () => {
    const store = await tempDir();
    expect(await readRunState(store)).toEqual(EMPTY_RUN_STATE);
  });

  it('reads a damaged file as the empty state and reports it', async () => {
    const store = await tempDir();
    fs.writeFileSync(path.join(store, 'state.json'), '{"backup": {"changes": "many"}');
    const problems: string[] = [];
    expect(await readRunState(store, (m) => problems.push(m))).toEqual(EMPTY_RUN_STATE);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/state\.json is damaged/);
    fs.writeFileSync(path.join(store, 'state.json'), '{"backup": {"changes": "many"}}');
    expect(await readRunState(store, (m) => problems.push(m))).toEqual(EMPTY_RUN_STATE);
    expect(problems[1]).toMatch(/backup\.changes/);
  });

  it('writeFileAtomic replaces a file whole', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'x.json');
    await writeFileAtomic(file, 'old');
    await writeFileAtomic(file, 'new content');
    expect(fs.readFileSync(file, 'utf8')).toBe('new content');
    expect(fs.readdirSync(dir)).toEqual(['x.json']);
  });
});
