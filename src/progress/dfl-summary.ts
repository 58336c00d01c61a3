/**
 * DeepFaceLab's `{model}_summary.txt`: the text `ModelBase.get_summary_text()` builds and
 * `ModelBase.save()` writes (with `Path.write_text`, before the weights and `data.dat`):
 *
 *     ================== Model Summary ===================
 *     ==            Model name: new_SAEHD               ==
 *     ==     Current iteration: 50000                   ==
 *     ==---------------- Model Options -----------------==
 *     ==            resolution: 224                     ==
 *     ==                 archi: liae-ud                 ==
 *     ==------------------ Running On ------------------==
 *     ==                  Name: NVIDIA GeForce RTX 3090 ==
 *
 * Every option is printed with `str()`, numpy scalars included, which is why the options are read
 * here and not from `data.dat`, where they are pickled numpy objects.
 */
import { cleanName } from './model-type-text.js';

/** What a summary says (its "Model name" is the file's own prefix, see `dfl-files.ts`). */
export interface DflSummary {
  iteration: number | null;
  /** The "Model Options" part, in its order: option name to the printed value. */
  options: Record<string, string>;
}

/** The most options kept (SAEHD has about 40). */
const MAX_OPTIONS = 64;
const ROW = /^==\s*(\S[^:]*?): (.*?)\s*==$/;
/** Longer lines are not rows of a summary. */
const MAX_LINE = 1024;
const HEADING = /^==-+ (.+?) -+==$/;
const OPTION_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * The iteration and options of a summary, or null when `text` has neither an iteration row nor
 * options (not a summary). Windows line ends are accepted (DeepFaceLab writes
 * the file in text mode); values are cleaned with `cleanName`.
 */
export function parseDflSummary(text: string | null): DflSummary | null {
  if (text === null) return null;
  const summary: DflSummary = { iteration: null, options: {} };
  let part = 'Model Summary';
  for (const line of text.split(/\r?\n/)) {
    // A summary row is short; a long one is not one (and its regexes backtrack in its length squared).
    if (line.length > MAX_LINE) continue;
    const heading = HEADING.exec(line.trimEnd());
    if (heading) {
      part = heading[1] as string;
      continue;
    }
    const row = ROW.exec(line.trimEnd());
    if (!row) continue;
    const [key, raw] = [row[1] as string, row[2] as string];
    if (part === 'Model Summary' && key === 'Current iteration') summary.iteration = /^\d{1,15}$/.test(raw) ? Number(raw) : null;
    else if (part === 'Model Options' && OPTION_NAME.test(key) && Object.keys(summary.options).length < MAX_OPTIONS) {
      summary.options[key] = cleanName(raw) ?? '';
    }
  }
  return summary.iteration === null && Object.keys(summary.options).length === 0 ? null : summary;
}
