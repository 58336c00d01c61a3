/**
 * The never-execute pickle reader on what the tests in `pickle-prefix.test.ts` do not hold:
 * one-item dicts (SETITEM).
 */
import { describe, expect, it } from 'vitest';
import { readPicklePrefix } from '../../src/progress/pickle-prefix.js';

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

/** `pickle.dumps({'options': {'batch_size': 8}, 'iter': 5}, protocol=P)`: the inner one-item dict is a SETITEM. */
const ONE_ITEM: Record<number, Buffer> = {
  2: b64('gAJ9cQAoWAcAAABvcHRpb25zcQF9cQJYCgAAAGJhdGNoX3NpemVxA0sIc1gEAAAAaXRlcnEESwV1Lg=='),
  4: b64('gASVKgAAAAAAAAB9lCiMB29wdGlvbnOUfZSMCmJhdGNoX3NpemWUSwhzjARpdGVylEsFdS4='),
};

describe('readPicklePrefix', () => {
  it.each([2, 4])('reads a one-item dict (SETITEM) nested in a dict, protocol %i', (protocol) => {
    const read = readPicklePrefix(ONE_ITEM[protocol] as Buffer);
    expect(read.stoppedBy).toBe('stop');
    const value = read.value as Record<string, unknown>;
    expect({ ...(value.options as object) }).toEqual({ batch_size: 8 });
    expect(value.iter).toBe(5);
  });
});
