/**
 * The fault-injecting wrapper passes the Store conformance suite when no fault is armed (so the
 * faults the suite injects through it test the store, not the wrapper), and fires where it is told.
 */
import { describe, expect, it } from 'vitest';
import { describeStore } from './conformance.js';
import { localHarness } from './local-harness.js';
import { faultyStore, InjectedFault } from '../helpers/faulty-store.js';

describeStore('faulty wrapper over local, no fault armed', async () => {
  const h = await localHarness();
  return { ...h, store: faultyStore(h.store), reopen: () => faultyStore(h.reopen()) };
});

describe('faultyStore', () => {
  it('fails the Nth call of a step, before or after it, and a kill ends the instance', async () => {
    const h = await localHarness();
    const s = faultyStore(h.store, [{ step: 'listSnapshots', nth: 2, when: 'before', kind: 'error' }]);
    await expect(s.listSnapshots()).resolves.toEqual([]);
    await expect(s.listSnapshots()).rejects.toBeInstanceOf(InjectedFault);
    await expect(s.listSnapshots()).resolves.toEqual([]);
    expect(s.calls('listSnapshots')).toBe(3);
    s.inject({ step: 'signature', when: 'after', kind: 'kill' });
    await expect(s.signature()).rejects.toThrow('injected kill after signature (call 1)');
    expect(s.killed).toBe(true);
    await expect(s.listSaves()).rejects.toThrow(/killed/);
  });
});
