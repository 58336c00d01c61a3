/**
 * `ckptd COMMAND --help` as a newcomer reads it: each option states its default once (commander
 * appends `(default: ...)` for an option given a default value, so the description must not say it too).
 */
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';

describe('--help', () => {
  it('states no default twice', () => {
    const program = buildProgram(() => undefined);
    const twice = [program, ...program.commands].flatMap((cmd) =>
      cmd.options.filter((o) => o.defaultValue !== undefined && /\(default:/.test(o.description)).map((o) => `${cmd.name()} ${o.flags}`),
    );
    expect(twice).toEqual([]);
  });
});
