/**
 * DeepFaceLab model folders for the tests, from the real `pickle.dumps` files that
 * `fixtures/dfl/generate.py` wrote (see there for what each case holds).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { put } from './fixtures.js';

const DIR = fileURLToPath(new URL('./fixtures/dfl/', import.meta.url));

export type DflCase = 'saehd-p3' | 'saehd-p4' | 'amp-p5' | 'quick96-p2' | 'xseg-p3' | 'xseg-p4' | 'big-p3' | 'long-p4';

/** The bytes of a fixture file by its run name (`new_SAEHD_data.dat`), gunzipped when stored as `.gz`. */
export function dflBytes(c: DflCase, name: string): Buffer {
  const file = path.join(DIR, c, name);
  return fs.existsSync(file) ? fs.readFileSync(file) : zlib.gunzipSync(fs.readFileSync(`${file}.gz`));
}

/**
 * Writes the case's model files into `run` (under `sub`, '' for the top) as one DeepFaceLab save
 * leaves them at `minute`: the summary, the weights (placeholders: their bytes are never read)
 * and `data.dat`. Returns the model name (`new_SAEHD`).
 */
export function putDflModel(run: string, c: DflCase, minute = 0, sub = ''): string {
  const names = fs.readdirSync(path.join(DIR, c)).map((n) => n.replace(/\.gz$/, ''));
  const model = (names.find((n) => n.endsWith('_data.dat')) as string).replace(/_data\.dat$/, '');
  const at = (name: string): string => path.posix.join(sub, name);
  put(run, at(`${model}_summary.txt`), dflBytes(c, `${model}_summary.txt`), minute);
  const weights = model === 'XSeg' ? ['XSeg_256.npy', 'XSeg_256_opt.npy'] : ['encoder.npy', 'inter_AB.npy', 'inter_B.npy', 'decoder.npy', 'src_dst_opt.npy'].map((w) => `${model}_${w}`);
  for (const w of weights) put(run, at(w), 'weights', minute);
  put(run, at(`${model}_data.dat`), dflBytes(c, `${model}_data.dat`), minute);
  return model;
}
