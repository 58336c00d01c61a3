/**
 * Crafted files that cost a reader memory or time far past their size, or took the process down,
 * until a cap bounded what the reader keeps or parses: each test here failed (or aborted) before
 * its cap. The caps are generous: every real trainer file in the other tests still reads.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readDflData } from '../../src/progress/dfl-data.js';
import { lastFloatList } from '../../src/progress/dfl-loss-history.js';
import { modelTypeFromMetadata } from '../../src/progress/model-type-safetensors.js';
import { parseDocument } from '../../src/progress/parse-document.js';
import { readPicklePrefix } from '../../src/progress/pickle-prefix.js';
import { parseLightningName, readLightning } from '../../src/progress/preset-lightning.js';
import { parseOneTrainerName } from '../../src/progress/preset-onetrainer.js';
import { parseSafetensorsHeader } from '../../src/progress/safetensors-header.js';
import { readBundleIndex } from '../../src/progress/tf-bundle.js';
import { memoryView } from './fixtures.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * What `script` (an ES module that may import the built modules from `dist/`, which `npm test`
 * builds first) prints, run in a node of its own with a 128 MB heap: a crash there fails the test
 * instead of taking the test runner down. Killed (and failed) after 50 s, before the test times out.
 */
async function inSmallHeap(script: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--max-old-space-size=128', '--input-type=module', '-e', script], { timeout: 50_000 });
  return stdout.trim();
}

describe('a TensorFlow bundle index', () => {
  /** An uncompressed index: one data block of `entries` (key bytes shared with the one before, the rest of the key), `handles` index entries all pointing at it. */
  const bundleIndex = (entries: [number, Buffer][], handles = 1): Buffer => {
    const varint = (n: number): number[] => {
      const out: number[] = [];
      for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
      return [...out, n];
    };
    const blockOf = (items: Buffer[]): Buffer => Buffer.concat([...items, Buffer.from([0, 0, 0, 0, 1, 0, 0, 0])]);
    const data = blockOf(entries.map(([shared, rest]) => Buffer.concat([Buffer.from([...varint(shared), ...varint(rest.length), 0]), rest])));
    const handle = Buffer.from([...varint(0), ...varint(data.length)]);
    const index = blockOf(Array.from({ length: handles }, () => Buffer.concat([Buffer.from([0, 0, handle.length]), handle])));
    const trailer = Buffer.alloc(5);
    const indexAt = data.length + 5;
    const footer = Buffer.alloc(48);
    Buffer.from([0, 0, ...varint(indexAt), ...varint(index.length)]).copy(footer);
    footer.writeUInt32LE(0x8b80fb57, 40);
    footer.writeUInt32LE(0xdb477524, 44);
    return Buffer.concat([data, trailer, index, trailer, footer]);
  };

  it('reads a well-formed one built here', () => {
    const index = readBundleIndex(bundleIndex([[0, Buffer.from('a/b')], [2, Buffer.from('c')]]));
    expect([...(index?.entries.keys() ?? [])]).toEqual(['a/b', 'a/c']);
  });

  it('refuses entries that repeat a long key (64 MiB of keys from 70 KB)', () => {
    const repeats = Array.from({ length: 1000 }, (): [number, Buffer] => [64 * KiB, Buffer.alloc(0)]);
    expect(readBundleIndex(bundleIndex([[0, Buffer.alloc(64 * KiB, 0x61)], ...repeats]))).toBeNull();
  });

  it('refuses an index block that walks the same data block again and again', () => {
    expect(readBundleIndex(bundleIndex([[0, Buffer.alloc(4 * KiB, 0x61)]], 1))?.entries.size).toBe(1);
    expect(readBundleIndex(bundleIndex([[0, Buffer.alloc(4 * KiB, 0x61)]], 1000))).toBeNull();
  });
});

describe('YAML, where a trainer file is not JSON', () => {
  it('refuses nesting past 100 levels: flow collections, or block indicators on one line', () => {
    const deep = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
    expect(parseDocument(deep(50), 'state.yaml')).not.toBeNull();
    expect(parseDocument(deep(101), 'state.yaml')).toBeNull();
    expect(parseDocument(`${'- '.repeat(101)}x`, 'training_metadata.json.bkp')).toBeNull();
    expect(parseDocument(`a: {b: ${'? '.repeat(101)}x}`, 'state.yaml')).toBeNull();
    // Brackets and dashes inside scalars are text, not nesting.
    expect(parseDocument(`note: x${'[- '.repeat(200)}\nquote: "${'{'.repeat(200)}"\nepoch: 3\n`, 'state.yaml')).toMatchObject({ epoch: 3 });
  });

  it('refuses a YAML text over 1 MiB', () => {
    expect(parseDocument(`epoch: 3\n#${' '.repeat(MiB)}\n`, 'state.yaml')).toBeNull();
    expect(parseDocument(`epoch: 3\n#${' '.repeat(MiB - 100)}\n`, 'state.yaml')).toEqual({ epoch: 3 });
  });

  it('a Keras .bkp of 8 MiB of [ reads as no progress, and the process lives (it aborted: heap out of memory)', async () => {
    const run = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-yaml-'));
    try {
      fs.writeFileSync(path.join(run, 'training_metadata.json.bkp'), '['.repeat(8 * MiB - KiB));
      const script = `
        const { readProgress } = await import(${JSON.stringify(path.join(ROOT, 'dist/src/progress/read-progress.js'))});
        const progress = await readProgress(${JSON.stringify(run)}, { kind: 'preset', preset: 'keras' }, [{ path: 'training_metadata.json.bkp', mtimeMs: 0 }]);
        console.log(String(progress.source));
      `;
      expect(await inSmallHeap(script)).toBe('null');
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  });
});

describe("a DeepFaceLab data.dat's loss history", () => {
  /** `{'iter': 5, 'loss_history': ` at protocol 3, then `history`. */
  const dataDat = (history: Buffer): Buffer => {
    const str = (text: string): Buffer => Buffer.concat([Buffer.from([0x58, text.length, 0, 0, 0]), Buffer.from(text, 'latin1')]);
    return Buffer.concat([Buffer.from([0x80, 0x03, 0x7d, 0x28]), str('iter'), Buffer.from([0x4b, 5]), str('loss_history'), history]);
  };

  it('is walked no further than 4,096 pending items: millions of EMPTY_LIST (entries never appended) grew a list a byte', () => {
    expect(lastFloatList(Buffer.alloc(MiB, 0x5d), 0)).toEqual({ end: 'bad', last: null });
    // One real batch of 1,000 entries [src, dst] is far below that.
    const entry = Buffer.concat([Buffer.from([0x5d, 0x28, 0x47]), Buffer.alloc(8), Buffer.from([0x47]), Buffer.alloc(8), Buffer.from([0x65])]);
    const batch = Buffer.concat([Buffer.from([0x5d, 0x28]), ...Array.from({ length: 1000 }, () => entry), Buffer.from([0x65, 0x4e])]);
    expect(lastFloatList(batch, 0)).toEqual({ end: 'whole', last: [0, 0] });
  });

  it('such a file gives its iteration and no losses, from its first MiB only', async () => {
    const view = memoryView({ 'm_SAEHD_data.dat': { bytes: dataDat(Buffer.alloc(4 * MiB, 0x5d)) } });
    const asked: number[] = [];
    const readPrefix = view.readPrefix;
    view.readPrefix = (rel, maxBytes) => (asked.push(maxBytes), readPrefix(rel, maxBytes));
    expect(await readDflData(view, 'm_SAEHD_data.dat')).toEqual({ iter: 5, lastLosses: null });
    expect(asked).toEqual([MiB]);
  });
});

describe('a pickle (DeepFaceLab data.dat, a Lightning checkpoint)', () => {
  /** `{'epoch': 3, ` at protocol 4, the dict's SETITEMS still pending, then `rest`. */
  const startingWithEpoch = (rest: Buffer): Buffer => Buffer.concat([Buffer.from([0x80, 0x04, 0x7d, 0x28, 0x8c, 5]), Buffer.from('epoch'), Buffer.from([0x4b, 3]), rest]);

  it('stops at 10,000 pending marks, with what it read before: a million MARKs kept a mark and a list each', () => {
    const read = readPicklePrefix(startingWithEpoch(Buffer.alloc(MiB, 0x28)));
    expect(read.stoppedBy).toBe('limit');
    expect(read.value).toEqual(Object.assign(Object.create(null), { epoch: 3 }));
    expect(read.incomplete.size).toBeLessThan(10_010);
  });

  it('stops at 1,048,576 memo entries, with what it read before: MEMOIZE kept one a byte', () => {
    const read = readPicklePrefix(startingWithEpoch(Buffer.alloc(2 * MiB, 0x94)));
    expect(read.stoppedBy).toBe('limit');
    expect(read.value).toEqual(Object.assign(Object.create(null), { epoch: 3 }));
    // LONG_BINPUT of the same index again and again is no new entry.
    const again = Buffer.concat(Array.from({ length: 2 * MiB / 8 }, () => Buffer.from([0x72, 7, 0, 0, 0])));
    expect(readPicklePrefix(startingWithEpoch(again)).stoppedBy).toBe('end');
  });

  it('stops at 2,097,152 values built: EMPTY_LIST built a list a byte, BINPERSID an object a byte', () => {
    const lists = readPicklePrefix(startingWithEpoch(Buffer.alloc(2.5 * MiB, 0x5d)));
    expect([lists.stoppedBy, lists.value]).toEqual(['limit', Object.assign(Object.create(null), { epoch: 3 })]);
    const persistent = readPicklePrefix(startingWithEpoch(Buffer.alloc(2.5 * MiB, 0x51)), { objects: true });
    expect(persistent.stoppedBy).toBe('limit');
  });
});

describe('a safetensors header', () => {
  const header = (json: string): ReturnType<typeof parseSafetensorsHeader> => parseSafetensorsHeader(Buffer.from(json), Number.MAX_SAFE_INTEGER);
  const tensor = (i: number): string => `"model.layers.${i}.weight":{"dtype":"BF16","shape":[320,320,3,3],"data_offsets":[${i * 10},${i * 10 + 10}]}`;

  it('refuses more than 262,144 members and elements: 16 MiB of metadata keys held the thread for seconds', () => {
    const keys = Array.from({ length: 300_000 }, (_, i) => `"k${i}":"v"`).join(',');
    expect(header(`{"__metadata__":{${keys}}}`)).toBeNull();
    // 20,000 tensors of four dimensions are within it; metadata values are strings, whatever they hold.
    const big = header(`{"__metadata__":{"ss_tag_frequency":${JSON.stringify(JSON.stringify({ a: Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`tag${i}`, i])) }))}},${Array.from({ length: 20_000 }, (_, i) => tensor(i)).join(',')}}`);
    expect(big?.tensorNames.length).toBe(20_000);
  });

  it('refuses nesting deeper than 16', () => {
    expect(header(`{${tensor(0)}}`)?.tensorNames).toEqual(['model.layers.0.weight']);
    expect(header(`{"t":{"dtype":"F16","shape":[1],"data_offsets":[0,2],"x":${'['.repeat(20)}${']'.repeat(20)}}}`)).toBeNull();
  });

  it('names only from the first KiB of a metadata value, and parses no LyCORIS args over 64 KiB', () => {
    expect(modelTypeFromMetadata({ 'modelspec.architecture': `x${' '.repeat(MiB)}y` })).toBe('x');
    const args = JSON.stringify({ algo: 'lokr', conv_dim: '4', note: 'x'.repeat(64 * KiB) });
    expect(modelTypeFromMetadata({ ss_network_module: 'lycoris.kohya', ss_network_args: args })).toBe('LyCORIS (kohya)');
    expect(modelTypeFromMetadata({ ss_network_module: 'lycoris.kohya', ss_network_args: '{"algo": "lokr"}' })).toBe('LyCORIS LoKr (kohya)');
  });
});

describe('model-type detection over a run of many configs and pipelines', () => {
  it('skips the configs inside 100,000 pipeline folders without comparing each pair (10^10 steps: hours)', async () => {
    const run = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-model-type-'));
    try {
      fs.mkdirSync(path.join(run, 'other'));
      fs.writeFileSync(path.join(run, 'other/config.json'), '{"model_type": "llama"}');
      const script = `
        const { detectModelType } = await import(${JSON.stringify(path.join(ROOT, 'dist/src/progress/model-type.js'))});
        const files = [{ path: 'other/config.json', size: 23 }];
        for (let i = 0; i < 100000; i++) files.push({ path: 'p' + i + '/model_index.json', size: 1 }, { path: 'p' + i + '/text_encoder/config.json', size: 1 });
        console.log(await detectModelType(${JSON.stringify(run)}, files));
      `;
      // Killed after 50 s: it takes a few seconds now.
      expect(await inSmallHeap(script)).toBe('llama');
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  });

  it('still skips a component config inside a pipeline folder, at any depth, and every one under a top-level pipeline', async () => {
    const run = fs.mkdtempSync(path.join(os.tmpdir(), 'ckptd-model-type-'));
    try {
      fs.mkdirSync(path.join(run, 'pipe/text_encoder'), { recursive: true });
      fs.writeFileSync(path.join(run, 'pipe/text_encoder/config.json'), '{"model_type": "clip_text_model"}');
      fs.writeFileSync(path.join(run, 'config.json'), '{"model_type": "llama"}');
      const { detectModelType } = await import('../../src/progress/model-type.js');
      const listed = (...paths: string[]): { path: string; size: number }[] => paths.map((p) => ({ path: p, size: 1 }));
      expect(await detectModelType(run, listed('pipe/model_index.json', 'pipe/text_encoder/config.json'))).toBeNull();
      expect(await detectModelType(run, listed('pipe/model_index.json', 'pipe/text_encoder/config.json', 'config.json'))).toBe('llama');
      expect(await detectModelType(run, listed('model_index.json', 'pipe/text_encoder/config.json', 'config.json'))).toBeNull();
      expect(await detectModelType(run, listed('pipe/text_encoder/model_index.json', 'pipe/text_encoder/config.json'))).toBeNull();
      expect(await detectModelType(run, listed('pip/model_index.json', 'pipe/text_encoder/config.json'))).toBe('clip_text_model');
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  });
});

describe('a Lightning checkpoint name', () => {
  it('gives no loss or metric past a double (loss=1e999 read as Infinity): a loss is a finite number', async () => {
    expect(parseLightningName('epoch=3-step=400-loss=1e999-val_acc=-1e400.ckpt')).toEqual({ epoch: 3, step: 400 });
    expect(parseLightningName('epoch=1e999.ckpt')).toBeNull();
    const reading = await readLightning(memoryView({ 'checkpoints/epoch=3-step=400-train_loss=1e999-val_loss=0.25.ckpt': { text: 'x' } }));
    expect(reading).toMatchObject({ step: 400, loss: 0.25, metrics: { val_loss: 0.25 } });
  });
});

describe('a OneTrainer backup name', () => {
  it('with a count of 400 digits is no backup name (its step read as Infinity)', () => {
    expect(parseOneTrainerName('2024-05-01_10-00-00-backup-1200-3-100')).toMatchObject({ step: 1200, epoch: 3, epochStep: 100 });
    expect(parseOneTrainerName(`2024-05-01_10-00-00-backup-${'9'.repeat(400)}-3-100`)).toBeNull();
  });
});
