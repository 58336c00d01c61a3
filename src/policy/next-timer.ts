/**
 * When the shell's one policy timer should go off. Pure.
 */
import type { PolicyConfig, RunState } from './types.js';

/**
 * The earliest moment (ms since the Unix epoch) at which a time-unit policy (`every: 30 minutes`)
 * of the run becomes due: `anchorAt + ms`, over both policies. Null when no policy is time-based or
 * none has an anchor yet (the first evaluation sets it). The result may lie in the past: such a
 * policy is due but waits for the state to change, which the shell learns from its watcher anyway.
 */
export function nextTimerAt(config: PolicyConfig, state: RunState): number | null {
  let earliest: number | null = null;
  for (const policy of ['backup', 'save'] as const) {
    const every = config[policy].every;
    const anchorAt = state[policy].anchorAt;
    if (every.unit !== 'time' || anchorAt === null) continue;
    const at = anchorAt + every.ms;
    if (earliest === null || at < earliest) earliest = at;
  }
  return earliest;
}
