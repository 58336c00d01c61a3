/**
 * The watch of one run's folder: which of the watcher's events count as the trainer at work, and
 * keeping a watch in place while the folder comes and goes and inotify runs out.
 *
 * Contract:
 * - `attach` watches the run folder (the current config's), or, while it does not exist, has the
 *   triggers check for it every second and watches it once it appears (then kicks an evaluation):
 *   a watch needs a folder to watch (and chokidar, used for polling, misses files written into a
 *   folder created after its watch started: chokidar issues #462, #1422).
 * - Every event that counts reaches `onActivity` with its relative path and the config the watch
 *   was attached with; the watch being ready kicks an evaluation. When inotify runs out of
 *   watches it warns once (`watch-limit`) and watches afresh by polling, for good (unless the
 *   triggers are halted), and records why for `ckptd status` (`watch-note.ts`); other watcher
 *   errors are logged (`watch-error`).
 * - `activityPathOf(run)` returns a function from an event's absolute path to the path relative to
 *   the run folder ('/'-separated; '' for the run folder itself and for paths outside it), or null
 *   when the event does not count: a path the person excluded (logs, event files) or a file no
 *   include glob matches. Folders (names without an extension, and any the watcher says is a
 *   folder: `ckpt.v2`) always count: a `checkpoint-500` folder appearing matters though only files
 *   match include globs. Temp files ckptd never stores
 *   still count: they are the trainer at work. ckptd's own names (`.ckptd-*`) and own files
 *   (`run.ownFiles`: the config, a log or metrics file inside the run) never count; a
 *   progress report (`.ckptd-progress.json`) asks for an evaluation within `settle` instead,
 *   whatever `include` says, without keeping the state from settling.
 */
import fs from 'node:fs';
import path from 'node:path';
import { globMatcher } from '../util/globs.js';
import type { RunConfig } from '../config/types.js';
import type { Logger } from '../util/logger.js';
import { isInside } from '../util/paths.js';
import { CKPTD_PROGRESS_FILE } from '../progress/ckptd-progress-file.js';
import { writeWatchNote } from '../store/watch-note.js';
import type { RunTriggers } from './run-triggers.js';
import { isWatchLimitError, WATCH_LIMIT_ADVICE, WATCH_LIMIT_NOTE, watchRun, type Watcher } from './watcher.js';

export class RunWatch {
  private watcher: Watcher | null = null;
  /** Set when inotify ran out of watches: this run is polled from then on. */
  private polling = false;
  /** Counts `close` calls: a swap to polling begun before one must not attach after it. */
  private closes = 0;

  constructor(
    private readonly runOf: () => RunConfig,
    private readonly triggers: RunTriggers,
    private readonly logger: Logger,
    /** Gets the config the watch was attached with (a settle change alone does not re-attach). */
    private readonly onActivity: (rel: string, run: RunConfig) => void,
  ) {}

  attach(): void {
    const run = this.runOf();
    if (!fs.existsSync(run.path)) {
      this.triggers.waitForFolder(
        () => fs.existsSync(this.runOf().path),
        () => {
          this.attach();
          this.triggers.kick(0);
        },
      );
      return;
    }
    const activityPath = activityPathOf(run);
    const report = path.join(run.path, CKPTD_PROGRESS_FILE);
    this.watcher = watchRun(run.path, {
      ignoreDirs: [run.store, run.save.to],
      onActivity: (abs, isDir) => {
        // `ckptd progress` wrote a report: judged soon, whatever `include` says, but it is no file of
        // the state, so it never keeps the state from settling (a script may report every step).
        if (abs === report) return this.triggers.kickWithin(run.settleMs);
        const rel = activityPath(abs, isDir);
        if (rel !== null) this.onActivity(rel, run);
      },
      onError: (err) => {
        if (!this.polling && isWatchLimitError(err)) {
          this.logger.warn(WATCH_LIMIT_ADVICE, { event: 'watch-limit' });
          this.polling = true;
          void writeWatchNote(run.store, WATCH_LIMIT_NOTE).catch((e: unknown) =>
            this.logger.warn(`could not record the watch limit for status: ${(e as Error).message}`),
          );
          // It may come from inside `watchRun`, before `this.watcher` is that watch: the swap waits
          // for it, or the failed watch would stay open beside the polling one.
          queueMicrotask(() => void this.reattach());
          return;
        }
        this.logger.warn(`watcher: ${err.message}`, { event: 'watch-error' });
      },
      onReady: () => this.triggers.kick(0),
      usePolling: this.polling || run.watch === 'poll',
    });
  }

  /** Catches up on watcher events the kernel dropped (see `Watcher.resync`); for the periodic rescan. */
  resync(): void {
    this.watcher?.resync();
  }

  async close(): Promise<void> {
    this.closes++;
    await this.watcher?.close();
    this.watcher = null;
  }

  /** Watches afresh (with polling once inotify ran out), or waits for the folder when it is gone. */
  private async reattach(): Promise<void> {
    const closes = this.closes;
    const w = this.watcher;
    this.watcher = null;
    await w?.close();
    if (!this.triggers.stopped && closes === this.closes) this.attach();
  }
}


export function activityPathOf(run: RunConfig): (abs: string, isDir?: boolean) => string | null {
  const userExcluded = globMatcher(run.exclude);
  const included = globMatcher(run.include);
  // Its own log lines must not keep the state from settling (nor start an evaluation each).
  const ownFiles = new Set(run.ownFiles);
  return (abs, isDir = false) => {
    const inside = isInside(abs, run.path);
    const rel = inside ? path.relative(run.path, abs).split(path.sep).join('/') : '';
    // Files the person excluded (logs, event files) must not keep the state from settling;
    // temp files ckptd never stores still count: they are the trainer at work.
    if (rel !== '' && (isCkptdOwn(rel) || ownFiles.has(abs) || userExcluded(rel) || !(isDir || includedOrDir(included, rel)))) return null;
    return rel;
  };
}

/** ckptd's own names in a run (`.ckptd-progress.json`, the temp files it renames into place): not the trainer's work. */
function isCkptdOwn(rel: string): boolean {
  return rel.split('/').some((name) => name.startsWith('.ckptd-'));
}

function includedOrDir(included: (p: string) => boolean, rel: string): boolean {
  // Folder events (`checkpoint-500` appearing) matter even though only files match include globs.
  return included(rel) || !path.posix.extname(rel);
}
