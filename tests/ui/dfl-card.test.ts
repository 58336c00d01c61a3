/**
 * The panel words a DeepFaceLab record as DeepFaceLab users read their console: `Iter 50,000`
 * and both losses; the trainer's options are a hover away. Other records are worded as before.
 */
import { describe, expect, it } from 'vitest';

interface Format {
  iterationBadge(r: object): string | null;
  displayName(r: object): string;
  cardMetrics(r: object): Record<string, number>;
  trainerText(r: object): string | null;
}

// The panel's plain-JS module, as the browser loads it (a variable path: it has no type declarations).
const FORMAT_MODULE = '../../ui/lib/format.js';
const format = (await import(FORMAT_MODULE)) as Format;

const DFL_BACKUP = {
  kind: 'backup',
  name: null,
  created: '2025-01-01T00:00:00.000Z',
  epoch: null,
  step: 50000,
  loss: 0.4123,
  metrics: { src_loss: 0.4123, dst_loss: 0.3821 },
  model_type: 'SAEHD',
  trainer: { name: 'DeepFaceLab', model: 'new_SAEHD', options: { resolution: '224', archi: 'liae-ud', batch_size: '8' } },
};
const HF_BACKUP = { ...DFL_BACKUP, epoch: 2, step: 1000, loss: 1.65, metrics: { eval_loss: 1.6 }, model_type: 'gpt2', trainer: undefined };

describe('a DeepFaceLab record in the panel', () => {
  it('counts iterations: "Iter 50,000" on the card and in its automatic name', () => {
    expect(format.iterationBadge(DFL_BACKUP)).toBe('Iter 50,000');
    expect(format.displayName(DFL_BACKUP)).toBe('Backup · iter 50,000');
  });

  it('shows both losses, src and dst, once each', () => {
    expect(format.cardMetrics(DFL_BACKUP)).toEqual({ src_loss: 0.4123, dst_loss: 0.3821 });
  });

  it('words the trainer and its options as ckptd show does', () => {
    expect(format.trainerText(DFL_BACKUP)).toBe('DeepFaceLab, model new_SAEHD: resolution 224, archi liae-ud, batch_size 8');
  });

  it('leaves other records as they were: steps, loss first, no trainer', () => {
    expect(format.iterationBadge(HF_BACKUP)).toBe('Epoch 2 · Step 1,000');
    expect(format.displayName({ ...HF_BACKUP, epoch: null })).toBe('Backup · step 1,000');
    expect(format.cardMetrics(HF_BACKUP)).toEqual({ loss: 1.65, eval_loss: 1.6 });
    expect(format.trainerText(HF_BACKUP)).toBeNull();
  });
});
