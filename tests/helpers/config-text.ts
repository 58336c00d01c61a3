/** Config text through the real loader, with one fixed file name and home, for tests of the config layer. */
import { parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { formatProblem } from '../../src/util/errors.js';

export const CONFIG_FILE = '/home/ana/train/ckptd.yaml';
export const CONFIG_HOME = '/home/ana';

/** The config `text` loads to; throws with every problem when it does not load. */
export function loadText(text: string): Config {
  const r = parseConfigText(text, CONFIG_FILE, CONFIG_HOME);
  if ('problems' in r) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.config;
}

/** Every problem of `text` as check-config prints it, without the file name: `LINE:COL key.path: message`. */
export function problemsOf(text: string): string[] {
  const r = parseConfigText(text, CONFIG_FILE, CONFIG_HOME);
  if (!('problems' in r)) throw new Error('expected problems, the config loaded');
  return r.problems.map((p) => formatProblem(p).slice(CONFIG_FILE.length + 1));
}
