/**
 * The `dfl` preset on DeepFaceLab model folders made of real `pickle.dumps` output
 * (`fixtures/dfl/generate.py`): the iteration, the losses and the options, from every model class
 * and pickle protocol DeepFaceLab writes, without reading more than it must.
 */
import { describe, expect, it } from 'vitest';
import { MAX_DATA_PREFIX } from '../../src/progress/dfl-data.js';
import { detectModelType } from '../../src/progress/model-type.js';
import { readDfl } from '../../src/progress/preset-dfl.js';
import { readProgressFromView } from '../../src/progress/read-view.js';
import type { RunView } from '../../src/progress/types.js';
import { scanState } from '../../src/store/scan.js';
import { dflBytes, putDflModel } from './dfl-fixtures.js';
import { AUTO, memoryView, preset, progressOf, put, tempRun, T0 } from './fixtures.js';

const DFL = preset('dfl');
const MiB = 1024 * 1024;

/** The last `loss_history` entries `generate.py` wrote: `[src, dst]` (XSeg: `[loss]`). */
const LAST_300 = [1.0792219638824463, 1.006237506866455];
const LAST_40 = [1.1380598545074463, 1.0597749948501587];
const LAST_XSEG_300 = 0.21643997728824615;

describe('dfl preset', () => {
  it.each([
    ['saehd-p3', 300, LAST_300],
    ['saehd-p4', 300, LAST_300],
    ['amp-p5', 40, LAST_40],
    ['quick96-p2', 40, LAST_40],
  ] as const)('%s: step = iter, loss = the src loss, metrics src_loss and dst_loss of the last iteration', async (c, step, [src, dst]) => {
    const run = await tempRun();
    putDflModel(run, c, 5);
    const progress = await progressOf(run, DFL);
    expect(progress).toMatchObject({ epoch: null, step, loss: src, metrics: { src_loss: src, dst_loss: dst }, source: 'dfl' });
  });

  it.each(['xseg-p3', 'xseg-p4'] as const)('%s: XSeg has one loss, and no src/dst metrics', async (c) => {
    const run = await tempRun();
    putDflModel(run, c);
    expect(await progressOf(run, DFL)).toMatchObject({ epoch: null, step: 300, loss: LAST_XSEG_300, metrics: {}, source: 'dfl' });
  });

  it('names DeepFaceLab, the model and its options as the summary prints them', async () => {
    const run = await tempRun();
    putDflModel(run, 'saehd-p3');
    const { trainer } = await progressOf(run, DFL);
    expect(trainer).toMatchObject({
      name: 'DeepFaceLab',
      model: 'new_SAEHD',
      options: { resolution: '224', face_type: 'wf', archi: 'liae-ud', ae_dims: '256', batch_size: '8', pretrain: 'False', random_warp: 'True', gan_power: '0.0' },
    });
    expect(Object.keys(trainer!.options).slice(0, 4)).toEqual(['resolution', 'face_type', 'models_opt_on_gpu', 'archi']);
    const xseg = await tempRun();
    putDflModel(xseg, 'xseg-p4');
    expect((await progressOf(xseg, DFL)).trainer).toEqual({ name: 'DeepFaceLab', model: 'XSeg', options: { face_type: 'wf', pretrain: 'False', batch_size: '8' } });
  });

  it('reads a 12,345-iteration, 12.4 MB data.dat from its first MiB, never the preview arrays after the history', async () => {
    const data = dflBytes('big-p3', 'new_SAEHD_data.dat');
    expect(data.length).toBeGreaterThan(12e6);
    const asked: number[] = [];
    const view = recording(memoryView({ 'new_SAEHD_data.dat': { bytes: data, minute: 3 } }), asked);
    expect(await readDfl(view)).toMatchObject({ step: 12345, loss: 0.29480835795402527, metrics: { src_loss: 0.29480835795402527, dst_loss: 0.27417176961898804 } });
    expect(asked.every((n) => n <= MiB)).toBe(true);
  });

  it('reads on when the history runs past the first MiB (60,000 iterations)', async () => {
    const asked: number[] = [];
    const view = recording(memoryView({ 'new_SAEHD_data.dat': { bytes: dflBytes('long-p4', 'new_SAEHD_data.dat') } }), asked);
    expect(await readDfl(view)).toMatchObject({ step: 60000, loss: 0.24600034952163696, metrics: { src_loss: 0.24600034952163696, dst_loss: 0.23050032556056976 } });
    expect(asked).toEqual([MiB, MAX_DATA_PREFIX]);
  });

  it('reads at most 32 MiB: a history longer than that gives the iteration without a loss', async () => {
    const asked: number[] = [];
    const view = recording(endlessHistoryView(), asked);
    expect(await readDfl(view)).toMatchObject({ step: 60000, loss: null, metrics: {} });
    expect(asked).toEqual([MiB, 32 * MiB]);
  });

  it('reads the model saved last: the SAEHD model after its XSeg, in the same folder', async () => {
    const run = await tempRun();
    putDflModel(run, 'xseg-p3', 10);
    putDflModel(run, 'saehd-p4', 20);
    put(run, 'SAEHD_default_options.dat', 'pickled options', 30);
    expect(await progressOf(run, DFL)).toMatchObject({ step: 300, loss: LAST_300[0], trainer: { model: 'new_SAEHD' } });
    putDflModel(run, 'xseg-p4', 40);
    expect((await progressOf(run, DFL)).trainer?.model).toBe('XSeg');
  });

  it('never takes a copy in *_autobackups/ or *_history/ for the model, however new', async () => {
    const run = await tempRun();
    putDflModel(run, 'quick96-p2', 10);
    putDflModel(run, 'saehd-p3', 50, 'new_SAEHD_autobackups/01');
    putDflModel(run, 'saehd-p3', 50, 'new_SAEHD_history');
    expect(await progressOf(run, DFL)).toMatchObject({ step: 40, trainer: { model: 'q96_Quick96' } });
  });

  it('finds the model folder below the run folder (a run on workspace/)', async () => {
    const run = await tempRun();
    putDflModel(run, 'saehd-p3', 1, 'model');
    put(run, 'data_src/aligned/00001_0.jpg', 'jpg');
    expect((await progressOf(run, DFL)).step).toBe(300);
  });

  it("falls back to the summary's iteration when data.dat is torn, garbage or missing", async () => {
    const run = await tempRun();
    putDflModel(run, 'saehd-p3', 1);
    put(run, 'new_SAEHD_data.dat', dflBytes('saehd-p3', 'new_SAEHD_data.dat').subarray(0, 3), 2);
    expect(await progressOf(run, DFL)).toMatchObject({ step: 300, loss: null, metrics: {}, trainer: { options: { archi: 'liae-ud' } } });
    put(run, 'new_SAEHD_data.dat', 'not a pickle at all', 2);
    expect((await progressOf(run, DFL)).step).toBe(300);
    const missing = await tempRun();
    put(missing, 'new_SAEHD_summary.txt', dflBytes('saehd-p4', 'new_SAEHD_summary.txt'));
    expect((await progressOf(missing, DFL)).step).toBe(300);
  });

  it('gives the iteration but no loss when the history is cut short (a data.dat copied while written)', async () => {
    const data = dflBytes('saehd-p4', 'new_SAEHD_data.dat');
    const view = memoryView({ 'new_SAEHD_data.dat': { bytes: data.subarray(0, 4000) } });
    expect(await readDfl(view)).toMatchObject({ step: 300, loss: null, metrics: {} });
  });

  it('reads the summary DeepFaceLab wrote on Windows (CRLF)', async () => {
    const text = dflBytes('saehd-p3', 'new_SAEHD_summary.txt').toString('utf8').replace(/\n/g, '\r\n');
    const reading = await readDfl(memoryView({ 'new_SAEHD_summary.txt': { text } }));
    expect(reading).toMatchObject({ step: 300, trainer: { options: { resolution: '224', archi: 'liae-ud' } } });
  });

  it('yields nothing without a DeepFaceLab model file', async () => {
    const run = await tempRun();
    put(run, 'train_data.dat', 'x');
    put(run, 'new_SAEHD_encoder.npy', 'weights');
    put(run, 'SAEHD_default_options.dat', 'x');
    put(run, 'new_SAEHD_summary.txt', 'hello');
    expect((await progressOf(run, DFL)).source).toBeNull();
  });

  it('is what auto finds in a DeepFaceLab model folder', async () => {
    const run = await tempRun();
    putDflModel(run, 'saehd-p3');
    expect(await progressOf(run, AUTO)).toMatchObject({ step: 300, source: 'dfl', trainer: { name: 'DeepFaceLab' } });
  });

  it("dates the reading by the newest file it read, so a newer .ckptd-progress.json wins", async () => {
    const reading = await readDfl(
      memoryView({
        'new_SAEHD_summary.txt': { text: dflBytes('saehd-p3', 'new_SAEHD_summary.txt').toString('utf8'), minute: 7 },
        'new_SAEHD_data.dat': { bytes: dflBytes('saehd-p3', 'new_SAEHD_data.dat'), minute: 8 },
      }),
    );
    expect(reading?.atMs).toBe(T0 + 8 * 60_000);
  });

  it('keeps the trainer when a newer .ckptd-progress.json wins the values', async () => {
    const view = memoryView({
      'new_SAEHD_data.dat': { bytes: dflBytes('saehd-p3', 'new_SAEHD_data.dat'), minute: 8 },
      '.ckptd-progress.json': { text: '{"step": 400}', minute: 9 },
    });
    expect(await readProgressFromView(view, DFL)).toMatchObject({ step: 400, loss: LAST_300[0], source: 'dfl+ckptd-progress', trainer: { name: 'DeepFaceLab', model: 'new_SAEHD' } });
  });
});

describe('model type of a DeepFaceLab model folder', () => {
  const modelType = async (run: string): Promise<string | null> =>
    detectModelType(run, await scanState(run, { include: ['**/*'], exclude: [], excludeAbs: [] }));

  it.each([
    ['saehd-p3', 'SAEHD'],
    ['amp-p5', 'AMP'],
    ['quick96-p2', 'Quick96'],
    ['xseg-p4', 'XSeg'],
  ] as const)('%s is %s', async (c, expected) => {
    const run = await tempRun();
    putDflModel(run, c);
    expect(await modelType(run)).toBe(expected);
  });

  it('is the class of the model saved last', async () => {
    const run = await tempRun();
    putDflModel(run, 'saehd-p4', 10);
    putDflModel(run, 'xseg-p3', 20);
    expect(await modelType(run)).toBe('XSeg');
    putDflModel(run, 'saehd-p4', 30);
    expect(await modelType(run)).toBe('SAEHD');
  });
});

/** `view` with every `readPrefix` size asked recorded in `asked`. */
function recording(view: RunView, asked: number[]): RunView {
  return {
    ...view,
    readPrefix: (rel, maxBytes) => {
      asked.push(maxBytes);
      return view.readPrefix(rel, maxBytes);
    },
  };
}

/**
 * A view of a `data.dat` whose `loss_history` never ends: the real 60,000-iteration file up to the
 * end of its first batch of 1,000 entries (`(` ... `e`, 22 bytes each at protocol 4, before any
 * FRAME), then that batch again and again, as long as asked.
 */
function endlessHistoryView(): RunView {
  const data = dflBytes('long-p4', 'new_SAEHD_data.dat');
  const start = data.indexOf(Buffer.from([0x8c, 12, ...Buffer.from('loss_history')])) + 2 + 12 + 1 + 2;
  const batch = data.subarray(start, start + 1 + 1000 * 22 + 1);
  if (batch[0] !== 0x28 || batch[batch.length - 1] !== 0x65) throw new Error('the fixture is not laid out as expected');
  const head = data.subarray(0, start);
  return {
    ...memoryView({ 'new_SAEHD_data.dat': {} }),
    readPrefix: async (_rel, maxBytes) => {
      const out = Buffer.alloc(maxBytes);
      head.copy(out);
      for (let at = head.length; at < maxBytes; at += batch.length) batch.copy(out, at);
      return out;
    },
  };
}
