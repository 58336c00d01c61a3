/**
 * The periodic rescan: each round first resyncs the watch (events inotify dropped), then evaluates.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RunTriggers } from '../../src/daemon/run-triggers.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('the rescan', () => {
  it('resyncs the watch before every evaluation it asks for, until cleared', async () => {
    vi.useFakeTimers();
    const calls: string[] = [];
    const triggers = new RunTriggers(() => calls.push('evaluate'));
    triggers.armRescan(() => 60_000, () => calls.push('resync'));
    await vi.advanceTimersByTimeAsync(121_000);
    expect(calls).toEqual(['resync', 'evaluate', 'resync', 'evaluate']);
    await triggers.clear();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(calls).toHaveLength(4);
  });
});
