/** `ckptd run`'s pure command-line and signal rules: CMD after `--`, and which signals reach CMD. */
import { describe, expect, it } from 'vitest';
import { checkDoubleDash } from '../../src/cli/run-wiring.js';
import { relayDecision, type SignalFacts } from '../../src/cli/run-signals.js';

describe('CMD after --', () => {
  const argv = (...a: string[]): string[] => ['/usr/bin/node', '/x/main.js', ...a];
  it('accepts a CMD entirely after the first --, whatever it holds', () => {
    expect(() => checkDoubleDash(argv('run', '--', 'node', 't.js', '--lr', '1e-4'), ['node', 't.js', '--lr', '1e-4'])).not.toThrow();
    expect(() => checkDoubleDash(argv('--config', 'c', 'run', '--resume', '--', 'torchrun', '--', 'x'), ['torchrun', '--', 'x'])).not.toThrow();
  });
  it('refuses a CMD without --, or with words before it', () => {
    expect(() => checkDoubleDash(argv('run', 'node', 't.js'), ['node', 't.js'])).toThrow(/put `--` before/);
    expect(() => checkDoubleDash(argv('run', 'torchrun', '--', 'x'), ['torchrun', 'x'])).toThrow(/put `--` before/);
  });
});

describe('signal relay', () => {
  const facts = (over: Partial<SignalFacts>): SignalFacts => ({ signal: 'SIGINT', sinceSame: Infinity, foreground: false, sameGroup: true, ...over });
  it.each([
    ['SIGINT without a terminal', facts({}), true],
    ['SIGINT typed in the terminal', facts({ foreground: true }), false],
    ['SIGINT in the terminal, trainer in its own group', facts({ foreground: true, sameGroup: false }), true],
    ['SIGTERM in the foreground', facts({ signal: 'SIGTERM', foreground: true }), true],
    ['SIGHUP', facts({ signal: 'SIGHUP' }), true],
    ['the same SIGTERM twice within a second', facts({ signal: 'SIGTERM', sinceSame: 200 }), false],
    ['a second SIGINT later (a second press)', facts({ sinceSame: 5000 }), true],
  ] as const)('%s', (_what, f, forward) => {
    expect(relayDecision(f).forward).toBe(forward);
  });
});
