/**
 * The defaults of SPEC section 3. Contract: the value a key takes when the YAML leaves it out, in
 * the YAML's own notation (durations, sizes and schedules as text, parsed like a written value).
 * Only the defaults with a value of their own live here; those that follow from another key (the
 * store beside the run, saves in the store) are computed in `resolve-paths.ts`, and plain
 * true/false/0 defaults sit where their section is assembled.
 */
export const DEFAULTS = {
  include: ['**/*'],
  settle: '2s',
  progress: 'auto',
  backupEvery: '30 minutes',
  keep: 3,
  saveEvery: 'never',
  saveFiles: ['**/*.safetensors', '**/*.ckpt', '**/*.pt', '**/*.bin'],
  savePick: 'auto',
  minFree: '1GiB',
  minAge: '1h',
  remoteRegion: 'us-east-1',
  remotePush: 'backups',
} as const;
