/**
 * The never-execute pickle reader on what the tests in `pickle-prefix.test.ts` do not hold: one-item
 * dicts (SETITEM) and, with `{ objects: true }`, reading past objects to the plain values after
 * them, on the `data.pkl` of a Lightning checkpoint (`fixtures/make_lightning_ckpts.py`, whose
 * pickle bytes are CPython's own).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PickleObject, readPicklePrefix } from '../../src/progress/pickle-prefix.js';

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

/** `pickle.dumps({'options': {'batch_size': 8}, 'iter': 5}, protocol=P)`: the inner one-item dict is a SETITEM. */
const ONE_ITEM: Record<number, Buffer> = {
  2: b64('gAJ9cQAoWAcAAABvcHRpb25zcQF9cQJYCgAAAGJhdGNoX3NpemVxA0sIc1gEAAAAaXRlcnEESwV1Lg=='),
  4: b64('gASVKgAAAAAAAAB9lCiMB29wdGlvbnOUfZSMCmJhdGNoX3NpemWUSwhzjARpdGVylEsFdS4='),
};

/** The `archive/data.pkl` of a Lightning `last.ckpt` (stored, so it sits whole in the zip after its local header). */
function lightningPickle(): Buffer {
  const zip = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/lightning/lightning_logs/version_1/checkpoints/last.ckpt'));
  const nameLength = zip.readUInt16LE(26);
  expect(zip.toString('utf8', 30, 30 + nameLength)).toBe('archive/data.pkl');
  const start = 30 + nameLength + zip.readUInt16LE(28);
  // The data descriptor after the data gives the size (the local header's is zero, as miniz writes it).
  const end = zip.indexOf(Buffer.from([0x50, 0x4b, 0x07, 0x08]), start);
  expect(zip.readUInt32LE(end + 12)).toBe(end - start);
  return zip.subarray(start, end);
}

describe('readPicklePrefix', () => {
  it.each([2, 4])('reads a one-item dict (SETITEM) nested in a dict, protocol %i', (protocol) => {
    const read = readPicklePrefix(ONE_ITEM[protocol] as Buffer);
    expect(read.stoppedBy).toBe('stop');
    const value = read.value as Record<string, unknown>;
    expect({ ...(value.options as object) }).toEqual({ batch_size: 8 });
    expect(value.iter).toBe(5);
  });

  it('stops at the state_dict of a Lightning checkpoint with epoch and global_step read', () => {
    const read = readPicklePrefix(lightningPickle());
    expect(read.stoppedBy).toBe('opcode 0x63');
    const value = read.value as Record<string, unknown>;
    expect([value.epoch, value.global_step, value['pytorch-lightning_version']]).toEqual([7, 800, '2.5.1']);
    expect('loops' in value).toBe(false);
  });

  it('with objects: reads past tensors and storages to the loops, never calling anything', () => {
    const read = readPicklePrefix(lightningPickle(), { objects: true });
    expect(read.stoppedBy).toBe('stop');
    expect(read.complete).toBe(true);
    const value = read.value as Record<string, Record<string, unknown>>;
    // collections.OrderedDict() is a dict; a tensor is the object its rebuild function names.
    const stateDict = value.state_dict as Record<string, unknown>;
    expect(Object.keys(stateDict)).toEqual(['layer.weight', 'layer.bias']);
    expect(stateDict['layer.weight']).toEqual(new PickleObject('object', 'torch._utils._rebuild_tensor_v2'));
    const fitLoop = value.loops?.fit_loop as Record<string, Record<string, Record<string, number>>>;
    expect({ ...fitLoop.epoch_progress?.current }).toEqual({ ready: 8, completed: 7, started: 8, processed: 8 });
    expect(fitLoop['epoch_loop.batch_progress']?.is_last_batch).toBe(true);
    expect(Array.isArray(value.lr_schedulers)).toBe(true);
  });

  it('with objects: never throws on any prefix of the checkpoint pickle', () => {
    const bytes = lightningPickle();
    for (let n = 0; n <= bytes.length; n++) {
      const read = readPicklePrefix(bytes.subarray(0, n), { objects: true });
      expect(read.stoppedBy).toBe(n === bytes.length ? 'stop' : 'end');
    }
  });
});
