/**
 * Where a run folder really is, as the daemon recorded it: so that a run folder swapped for a
 * symbolic link elsewhere (`mv run run.real; ln -s /etc run`), or a link the person made repointed,
 * is never backed up in the run's place (SPEC 6: symlinks are never followed out of the run).
 *
 * Contract:
 * - `record(path)` notes `realpath(path)`, for the daemon's start; a folder not there yet records
 *   nothing. A run path that is a symlink from the start is fine: its real path is recorded.
 * - `check(path)` throws `RunFolderMovedError` (naming both places and the fix) when `path` now
 *   leads elsewhere than recorded. It records instead, and passes, when nothing is recorded for
 *   `path`: the folder first seen, or a config reload that changed the run's `path` (a deliberate
 *   change). A folder not there passes (the scan reports it) and keeps what was recorded. Other
 *   errors of `realpath` (no permission, a loop) are thrown as they are.
 */
import fsp from 'node:fs/promises';

/** The run folder leads elsewhere than where it was recorded: nothing may be backed up or pruned for it. */
export class RunFolderMovedError extends Error {
  override readonly name = 'RunFolderMovedError';
  constructor(
    readonly path: string,
    readonly recorded: string,
    readonly now: string,
  ) {
    super(
      `the run folder ${path} now leads to ${now}, not to ${recorded} as when ckptd began watching it (swapped for a symbolic link?); ` +
        `no backup is taken (and none deleted) until it leads there again: put the run folder back at ${path}, ` +
        `or, if the run really moved to ${now}, set the run's path to it in the config (applied on save, or SIGHUP)`,
    );
  }
}

export class RunFolderPlace {
  private recorded: { path: string; real: string } | null = null;

  /** Records where `path` leads now (nothing while it is not there). */
  async record(path: string): Promise<void> {
    const real = await realOrNull(path);
    this.recorded = real === null ? null : { path, real };
  }

  /** Throws `RunFolderMovedError` when `path` leads elsewhere than recorded: see the contract above. */
  async check(path: string): Promise<void> {
    if (this.recorded === null || this.recorded.path !== path) return this.record(path);
    const real = await realOrNull(path);
    if (real !== null && real !== this.recorded.real) throw new RunFolderMovedError(path, this.recorded.real, real);
  }
}

async function realOrNull(path: string): Promise<string | null> {
  try {
    return await fsp.realpath(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
