/**
 * The time policy's timer against the wall clock: Node's timers run on the monotonic clock, which
 * stands still while the machine is suspended and ignores the clock being set, so a suspend or a
 * clock set forward must not delay a due policy by the length of its interval, and a clock set
 * back must not fire it early.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { POLICY_RECHECK_MS, RunTriggers } from '../../src/daemon/run-triggers.js';

const MIN = 60_000;
const T0 = 1_700_000_000_000;

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/**
 * Triggers on a wall clock that runs with the fake timers (`vi.advanceTimersByTime`) and that the
 * test also moves by hand, apart from them (`wall.jump`): a suspend, or the clock being set.
 */
function triggers(): { t: RunTriggers; fired: () => number; wall: { jump: number } } {
  vi.setSystemTime(T0);
  const wall = { jump: 0 };
  let fired = 0;
  const t = new RunTriggers(() => void fired++, () => Date.now() + wall.jump);
  return { t, fired: () => fired, wall };
}

/** Lets `ms` of monotonic time pass (the wall clock moves with it). */
function pass(ms: number): void {
  vi.advanceTimersByTime(ms);
}

const rows: { name: string; jump: number; after: number; fires: boolean }[] = [
  { name: 'suspended for 2 hours: fires within a recheck of waking', jump: 2 * 60 * MIN, after: POLICY_RECHECK_MS, fires: true },
  { name: 'clock set forward 29 minutes: fires within a recheck, not 29 minutes late', jump: 29 * MIN, after: 2 * POLICY_RECHECK_MS, fires: true },
  { name: 'clock set back 10 minutes: not at the 30 monotonic minutes', jump: -10 * MIN, after: 30 * MIN - 1000, fires: false },
];

describe('the policy timer and the wall clock', () => {
  it.each(rows)('$name', ({ jump, after, fires }) => {
    const { t, fired, wall } = triggers();
    t.armPolicyTimer(T0 + 30 * MIN);
    pass(1000);
    wall.jump += jump;
    pass(after);
    expect(t.takeDue().timer).toBe(fires);
    // The evaluation it asks for (a kick, one timer tick later).
    pass(1);
    expect(fired()).toBe(fires ? 1 : 0);
  });

  it('a clock left alone fires once, at the moment armed for, however long the wait', () => {
    const { t, fired, wall } = triggers();
    t.armPolicyTimer(T0 + 90 * MIN);
    pass(90 * MIN - 1);
    expect(fired()).toBe(0);
    pass(1);
    expect(t.takeDue().timer).toBe(true);
    pass(10 * POLICY_RECHECK_MS);
    expect(fired()).toBe(1);
  });

  it('a moment already past, a halted run or a re-arm for no policy arms nothing', () => {
    const { t, fired, wall } = triggers();
    t.armPolicyTimer(T0 - 1);
    t.armPolicyTimer(T0 + MIN);
    t.armPolicyTimer(null);
    pass(60 * MIN);
    t.halt();
    t.armPolicyTimer(Date.now() + MIN);
    pass(60 * MIN);
    expect(fired()).toBe(0);
    expect(t.anyDue).toBe(false);
  });
});

describe('a retry', () => {
  it('is due once its delay has passed, not at a kick before (a watcher event, a busy evaluation)', () => {
    const { t, fired } = triggers();
    t.retryIn(30_000, { cronBackup: true });
    // The trainer writes, or events came during the failed evaluation: evaluated at once, but the
    // failed snapshot is not tried again yet (a save failing on a full disk, copied again and again).
    t.kick(0);
    pass(1);
    expect(fired()).toBe(1);
    expect(t.anyDue).toBe(false);
    expect(t.takeDue()).toMatchObject({ retry: false, cronBackup: false });
    pass(30_000);
    expect(fired()).toBe(2);
    expect(t.anyDue).toBe(true);
    // The cron tick the failure left unserved comes with it.
    expect(t.takeDue()).toMatchObject({ retry: true, cronBackup: true });
    expect(t.anyDue).toBe(false);
  });

  it('is due when its moment has come by the wall clock, though its timer was cleared (a rewatch)', async () => {
    const { t, wall } = triggers();
    t.retryIn(30_000);
    await t.clear();
    expect(t.anyDue).toBe(false);
    wall.jump = 30_000;
    expect(t.anyDue).toBe(true);
    expect(t.takeDue().retry).toBe(true);
  });

  it('still evaluates at its moment once the triggers are armed again after a clear (a config edit that rewatches)', async () => {
    const { t, fired } = triggers();
    t.retryIn(30_000);
    pass(10_000);
    await t.clear();
    // What the supervisor arms again after a rewatch; the rescan alone would come a minute later.
    t.armRescan(() => 60_000);
    t.armRetry();
    pass(20_001);
    expect(fired()).toBe(1);
    expect(t.takeDue().retry).toBe(true);
    await t.clear();
  });
});
