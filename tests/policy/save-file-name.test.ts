import { describe, expect, it } from 'vitest';
import { saveExtensionOf, saveFileName } from '../../src/policy/save-file-name.js';

const base: Parameters<typeof saveFileName>[0] = { prefix: '', run: 'my-run', epoch: 3, step: 1200, id: '20240101T000000Z-ab12', ext: 'safetensors' };

const rows: { name: string; opts: Parameters<typeof saveFileName>[0]; want: string }[] = [
  { name: 'all parts', opts: base, want: 'my-run-e3-s1200-20240101T000000Z-ab12.safetensors' },
  { name: 'with a prefix', opts: { ...base, prefix: 'sdxl_' }, want: 'sdxl_my-run-e3-s1200-20240101T000000Z-ab12.safetensors' },
  { name: 'unknown epoch', opts: { ...base, epoch: null }, want: 'my-run-s1200-20240101T000000Z-ab12.safetensors' },
  { name: 'unknown step', opts: { ...base, step: null }, want: 'my-run-e3-20240101T000000Z-ab12.safetensors' },
  { name: 'no progress', opts: { ...base, epoch: null, step: null }, want: 'my-run-20240101T000000Z-ab12.safetensors' },
  { name: 'fractional epoch', opts: { ...base, epoch: 2.5 }, want: 'my-run-e2.5-s1200-20240101T000000Z-ab12.safetensors' },
  { name: 'float noise in the epoch', opts: { ...base, epoch: 2.4999999999999996 }, want: 'my-run-e2.5-s1200-20240101T000000Z-ab12.safetensors' },
  { name: 'non-finite epoch is unknown', opts: { ...base, epoch: Number.NaN }, want: 'my-run-s1200-20240101T000000Z-ab12.safetensors' },
  { name: 'extension given with its dot', opts: { ...base, ext: '.ckpt' }, want: 'my-run-e3-s1200-20240101T000000Z-ab12.ckpt' },
  { name: 'no extension', opts: { ...base, ext: '' }, want: 'my-run-e3-s1200-20240101T000000Z-ab12' },
  { name: 'slashes in the prefix', opts: { ...base, prefix: '../x/y\\z-' }, want: '.._x_y_z-my-run-e3-s1200-20240101T000000Z-ab12.safetensors' },
  { name: 'NUL and control characters in the prefix', opts: { ...base, prefix: 'a\u0000b\nc\td\u007f-' }, want: 'a_b_c_d_-my-run-e3-s1200-20240101T000000Z-ab12.safetensors' },
  { name: 'unicode in the prefix is kept', opts: { ...base, prefix: 'modèle-' }, want: 'modèle-my-run-e3-s1200-20240101T000000Z-ab12.safetensors' },
];

describe('saveFileName', () => {
  it.each(rows)('$name', ({ opts, want }) => {
    const name = saveFileName(opts);
    expect(name).toBe(want);
    expect(name).not.toMatch(/[/\\\u0000-\u001f\u007f]/);
  });
});

describe('the longest prefix the config accepts', () => {
  it('still gives file names within 255 bytes, with the longest epoch, step and id ckptd writes and a 19-byte extension', async () => {
    const { SAVE_NAME_ROOM } = await import('../../src/config/normalize-policies.js');
    const { newId } = await import('../../src/store/ids.js');
    const name = saveFileName({ prefix: 'p'.repeat(SAVE_NAME_ROOM - 1), run: 'a', epoch: 999e18, step: 999e18, id: newId(Date.now()), ext: `.${'x'.repeat(18)}` });
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
  });
});

describe('saveExtensionOf', () => {
  it.each([
    ['backup/latest.weights.h5', '.weights.h5'],
    ['model.WEIGHTS.H5', '.WEIGHTS.H5'],
    ['weights.h5', '.h5'],
    ['lora-000002.safetensors', '.safetensors'],
    ['ck/epoch=3-step=400-val_loss=0.12.ckpt', '.ckpt'],
    ['.weights.h5', '.h5'],
    ['dir.d/noext', ''],
    ['.hidden', ''],
  ])('%s -> %s', (name, want) => expect(saveExtensionOf(name)).toBe(want));
});
