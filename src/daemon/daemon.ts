/**
 * The daemon: one `RunSupervisor` per run, the config file watched and re-read live (and on SIGHUP),
 * runs added, removed or updated without a restart. An invalid edit is logged with its line and key
 * and the config in force stays. So does, for that run alone, an edit that gives a running run a
 * place it cannot use (`placeProblems`) or a store it cannot take (held by another ckptd): the run
 * goes on with its whole previous config, and the edit applies once a reload finds it usable.
 * `runConfig` and the next reload's diff are always against what is in force.
 * For `ckptd run` (`onlyRun`), only its own run's edits apply.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Config, RunConfig } from '../config/types.js';
import { loadConfigFile, placeProblems, UNREADABLE_KEY } from '../config/load.js';
import { STARTUP_CHECK, watchConfigFile } from '../config/watch-config-file.js';
import { ConfigError, formatProblem, type ConfigProblem } from '../util/errors.js';
import type { RootLogger } from '../util/logger.js';
import { LOW_NICE, processPriority, type Priority } from '../policy/process-priority.js';
import { Metrics, observeEvents } from './metrics.js';
import { applyProcessPriority } from './process-priority.js';
import { RunSupervisor } from './run-supervisor.js';
import { narrowToRun } from './single-run-reload.js';

export interface DaemonOptions {
  config: Config;
  logger: RootLogger;
  now?: () => number;
  /** Watch `config.file` and reload on every save (true for `ckptd daemon`). */
  watchConfigFile: boolean;
  /**
   * Called when a store lock is lost (taken over, its folder removed, or it could not be kept
   * fresh): every commit step of that run refuses from then on, and the daemon stops the run.
   */
  onFatal?: (message: string) => void;
  /**
   * Set the process's priority from the config (`priority:`) at start and on every reload that
   * changes it (true for `ckptd daemon`). `ckptd run` leaves it false and calls `applyPriority`
   * once the trainer has started: a child takes its parent's priority, and the trainer must not.
   * From then on, reloads apply it as they do with `managePriority`.
   */
  managePriority?: boolean;
  /**
   * `ckptd run`: the one run of `config` this process supervises. Reloads apply only its edits,
   * in its store and folder (`narrowToRun`), each edit held back logged once as `run-config-held`.
   */
  onlyRun?: string;
  /** `ckptd run`: its session's id, recorded in every snapshot the daemon takes (`SnapshotMeta.session`). */
  session?: string;
}

export class Daemon {
  private readonly runs = new Map<string, RunSupervisor>();
  private stopConfigWatch: (() => Promise<void>) | null = null;
  private reloading: Promise<void> = Promise.resolve();
  /** Set by `stop`: a reload still under way starts nothing more. */
  private stopping = false;
  private config: Config;
  private readonly now: () => number;

  private readonly metrics: Metrics | null;
  private priority: Priority | null = null;
  /** The `run-config-held` warnings last logged (`onlyRun`): the same ones are not repeated per re-read. */
  private held = '';

  private constructor(private readonly opts: DaemonOptions) {
    this.config = opts.config;
    this.now = opts.now ?? Date.now;
    const file = opts.config.metrics.file;
    this.metrics = file ? new Metrics(file, this.now, this.now(), (err) => opts.logger.warn(`metrics: cannot write ${file}: ${err.message}`)) : null;
  }

  /**
   * Starts every run. If any run's store is held by another ckptd, nothing is started and the
   * error (naming the holder) is thrown. A run whose folders cannot be used (`placeProblems`) is
   * logged as `run-failed` and left out, and the others run; when that leaves no run at all, the
   * `ConfigError` naming every such problem is thrown.
   */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    const d = new Daemon(opts);
    if (opts.managePriority) await d.applyPriority();
    const unusable: ConfigProblem[] = [];
    try {
      for (const run of opts.config.runs) {
        const problems = d.logUnusablePlaces(run);
        if (problems.length === 0) await d.startRun(run);
        else unusable.push(...problems);
      }
    } catch (err) {
      await d.stop();
      throw err;
    }
    if (unusable.length > 0 && d.runs.size === 0) {
      await d.stop();
      throw new ConfigError(unusable);
    }
    if (opts.watchConfigFile && opts.config.file) d.watchConfig(opts.config.file);
    const count = d.runs.size === opts.config.runs.length ? `${d.runs.size}` : `${d.runs.size} of ${opts.config.runs.length}`;
    opts.logger.info(`ckptd daemon started (pid ${process.pid}) with ${count} run(s)${opts.config.file ? ` from ${opts.config.file}` : ''}`, {
      event: 'daemon-start',
    });
    return d;
  }

  /** The config of run `name` as applied now (after every reload so far), or undefined. */
  runConfig(name: string): RunConfig | undefined {
    return this.config.runs.find((r) => r.name === name);
  }

  /** How many runs are being watched now (runs that could not start are not counted). */
  get runCount(): number {
    return this.runs.size;
  }

  /**
   * Puts the process at the priority the config asks for (`processPriority`), logging what was set
   * and what could not be. Does nothing when the process is at that priority already.
   */
  async applyPriority(): Promise<void> {
    const wanted = processPriority(this.config.runs);
    if (wanted === this.priority) return;
    const outcome = await applyProcessPriority(wanted);
    this.priority = wanted;
    const log = this.opts.logger;
    const how = wanted === 'low' ? `nice ${LOW_NICE}, IO best-effort 7: the trainer comes first` : 'nice 0, IO as the system gives it';
    if (outcome.problems.length === 0) log.info(`priority ${wanted} (${how})`, { event: 'priority', priority: wanted });
    for (const p of outcome.problems) log.warn(`priority ${wanted}: ${p}`, { event: 'priority-problem', priority: wanted });
  }

  /**
   * Re-reads the config file and applies it; on any problem logs it and keeps the config in force.
   * Never rejects: a reload that failed half-way is logged, and the next one applies in full.
   */
  reload(reason: string): Promise<void> {
    this.reloading = this.reloading.then(() =>
      this.doReload(reason).catch((err: unknown) => {
        // `ckptd run` takes SIGHUP as a hung-up terminal: it stops the training, reloads nothing.
        const next = this.opts.onlyRun === undefined ? 'the next reload (an edit, or SIGHUP)' : 'the next edit of the file';
        this.opts.logger.error(`config reload (${reason}) failed: ${(err as Error).message}; ${next} tries again`, { event: 'config-reload-failed' });
      }),
    );
    return this.reloading;
  }

  /** Stops every run (each finishes or abandons its snapshot in progress) and the config watcher. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.stopConfigWatch?.();
    this.stopConfigWatch = null;
    // A reload under way would start runs again after they were stopped.
    await this.reloading;
    await Promise.all([...this.runs.values()].map((r) => r.stop()));
    this.runs.clear();
    await this.metrics?.flush();
  }

  private watchConfig(file: string): void {
    this.stopConfigWatch = watchConfigFile(
      file,
      (reason) => void this.reload(reason),
      (err) => this.opts.logger.warn(`config watcher: ${err.message}`),
    );
  }

  private async startRun(run: RunConfig): Promise<void> {
    const metrics = this.metrics;
    metrics?.addRun(run.name);
    const base = this.opts.logger.child({ run: run.name });
    const logger = metrics ? observeEvents(base, (event, fields) => metrics.record(run.name, event, fields)) : base;
    const sup = await RunSupervisor.start(run, logger, this.now, (name, err) => {
      const msg = `${err.message}; stopping run ${name}: nothing more is backed up or deleted for it until the daemon restarts or the config file changes`;
      this.opts.logger.error(msg, { event: 'lock-lost', run: name });
      const lost = this.runs.get(name);
      this.runs.delete(name);
      void lost?.stop();
      this.opts.onFatal?.(msg);
    }, this.opts.session);
    this.runs.set(run.name, sup);
  }

  private async doReload(reason: string): Promise<void> {
    const file = this.config.file;
    if (!file) return;
    const log = this.opts.logger;
    let next: Config;
    try {
      next = loadConfigFile(file);
    } catch (err) {
      if (err instanceof ConfigError && err.problems.every((p) => p.keyPath === UNREADABLE_KEY)) {
        // Mid-edit, a swapped link, a moved file: the watcher reads it again when it is back.
        const why = err.problems.map((p) => p.message).join('; ');
        log.warn(`${why} (${file}); the previous config stays in force until the file can be read again`, { event: 'config-unreadable', path: file });
      } else if (err instanceof ConfigError) {
        for (const p of err.problems) log.error(`config not applied: ${formatProblem(p)}`, { event: 'config-invalid', line: p.line, key: p.keyPath });
        log.error('the previous config stays in force until the file is fixed', { event: 'config-invalid' });
      } else {
        log.error(`config not applied: ${(err as Error).message}; the previous config stays in force`, { event: 'config-invalid' });
      }
      return;
    }
    if (this.opts.onlyRun !== undefined) next = this.narrow(next, this.opts.onlyRun);
    const prevRuns = new Map(this.config.runs.map((r) => [r.name, r]));
    if (isDeepStrictEqual(next, this.config)) {
      // Editors touch files without changing them; only an explicit SIGHUP deserves a line at info.
      if (reason === 'SIGHUP') log.info('config re-read (SIGHUP): nothing changed', { event: 'config-reloaded' });
      else log.debug(`config re-read (${reason}): nothing changed`, { event: 'config-unchanged' });
      // The first read only catches an edit made while the watch was set up: a run that could not
      // start failed moments ago, and trying it again would say so twice. An edit or SIGHUP retries it.
      if (reason === STARTUP_CHECK) return;
    } else {
      log.configure(next.log);
      log.info(`config reloaded (${reason})`, { event: 'config-reloaded' });
      // What is in force from here on: a running run keeps its previous config while its new
      // place cannot be used.
      this.config = { ...next, runs: next.runs.map((run) => this.keptIfUnusable(next, run, prevRuns.get(run.name))) };
      // Over a copy: a moved run is deleted and added again under its name, which a live
      // iteration of the map would visit once more (and restart again, endlessly).
      for (const [name, sup] of [...this.runs]) {
        if (this.stopping) return;
        // Stopped while an earlier run was updated (its store lock was lost): not this one's to
        // update; the loop below starts the run afresh.
        if (this.runs.get(name) !== sup) continue;
        const run = this.runConfig(name);
        const prev = prevRuns.get(name);
        try {
          if (!run) {
            log.info(`run ${name} removed from the config; no longer watching it`, { event: 'run-removed', run: name });
            this.runs.delete(name);
            await sup.stop();
          } else if (prev !== undefined && run.store !== prev.store) {
            log.info(`run ${name} moved to store ${run.store}; restarting it`, { event: 'run-moved', run: name });
            this.runs.delete(name);
            await sup.stop();
            await this.moveStore(run, prev);
          } else {
            await sup.update(run);
          }
        } catch (err) {
          // Half applied is no state to go on in: the run starts afresh with the new config (if
          // that fails too, the next reload, an edit or SIGHUP, retries it).
          log.error(`run ${name}: the new config could not be applied (${(err as Error).message}); restarting the run`, { event: 'config-reload-failed', run: name });
          if (this.runs.get(name) === sup) this.runs.delete(name);
          await sup.stop().catch(() => undefined);
          if (run) await this.tryStartRun(run);
        }
      }
      // `ckptd run` too, once its trainer has its own priority (set then: `priority` is not null).
      if (this.opts.managePriority || this.priority !== null) await this.applyPriority();
    }
    for (const run of this.config.runs) {
      if (this.stopping) return;
      // Also retries a run that could not start before (e.g. its store was locked).
      if (!this.runs.has(run.name)) {
        if (!prevRuns.has(run.name)) log.info(`run ${run.name} added to the config`, { event: 'run-added', run: run.name });
        await this.tryStartRun(run);
      }
    }
  }

  /**
   * `run` (of the edited config `next`) as it applies to a running run whose config in force is
   * `prev`: `prev` itself, whole, when the edit gave it a new path, store or save.to that cannot be
   * used (`placeProblems`), each problem logged as `config-invalid` with its place in the file. A
   * run not running has no config to keep: `tryStartRun` reports it.
   */
  private keptIfUnusable(next: Config, run: RunConfig, prev: RunConfig | undefined): RunConfig {
    if (prev === undefined || !this.runs.has(run.name)) return run;
    if (run.path === prev.path && run.store === prev.store && run.save.to === prev.save.to) return run;
    const problems = placeProblems(next, [run]);
    for (const p of problems) {
      this.opts.logger.error(`run ${run.name}: config not applied: ${formatProblem(p)}; ${this.goesOn(prev)}`, {
        event: 'config-invalid',
        run: run.name,
        line: p.line,
        key: p.keyPath,
      });
    }
    return problems.length === 0 ? run : prev;
  }

  /**
   * Starts `run` in its new store once the run on `prev` is stopped. When it cannot start there (a
   * store another ckptd holds), the run starts again on `prev`, which stays in force, saying why;
   * when `prev` cannot start either (its own place became unusable), it says that the run is not
   * backed up, not that it goes on (`tryStartRun` said why just before).
   */
  private async moveStore(run: RunConfig, prev: RunConfig): Promise<void> {
    try {
      await this.startRun(run);
    } catch (err) {
      this.config = { ...this.config, runs: this.config.runs.map((r) => (r.name === prev.name ? prev : r)) };
      await this.tryStartRun(prev);
      const then = this.runs.has(prev.name)
        ? this.goesOn(prev)
        : `nor can it go on with its previous config (path ${prev.path}, store ${prev.store}): nothing is backed up for it until ${this.retry()} makes it usable`;
      this.opts.logger.error(`run ${run.name}: cannot move to store ${run.store}: ${(err as Error).message}; ${then}`, {
        event: 'run-move-failed',
        run: run.name,
      });
    }
  }

  /** What the log says of a run kept on its previous config `prev`, and what applies the edit. */
  private goesOn(prev: RunConfig): string {
    return `run ${prev.name} goes on with its previous config (path ${prev.path}, store ${prev.store}) until ${this.retry()} makes it usable`;
  }

  /** What applies an edit held back: `ckptd run` takes SIGHUP as a hung-up terminal, not as a reload. */
  private retry(): string {
    return this.opts.onlyRun === undefined ? 'an edit (or SIGHUP)' : 'an edit';
  }

  /** `next` as `ckptd run` applies it (`narrowToRun`); logs each edit held back, once. */
  private narrow(next: Config, name: string): Config {
    const current = this.runConfig(name);
    if (current === undefined) return { ...next, runs: next.runs.filter((r) => r.name === name) };
    const { config, held } = narrowToRun(next, current);
    const text = held.join('\n');
    if (text !== this.held) for (const h of held) this.opts.logger.warn(h, { event: 'run-config-held', run: name });
    this.held = text;
    return config;
  }

  private async tryStartRun(run: RunConfig): Promise<void> {
    try {
      if (this.logUnusablePlaces(run).length === 0) await this.startRun(run);
    } catch (err) {
      this.opts.logger.error(`cannot start run ${run.name}: ${(err as Error).message}`, { event: 'run-failed', run: run.name });
    }
  }

  /**
   * The problems of the run's folders (a file, no permission, a link loop), each logged as
   * `run-failed` with its place in the config file; empty when the run can start.
   */
  private logUnusablePlaces(run: RunConfig): ConfigProblem[] {
    const problems = placeProblems(this.config, [run]);
    for (const p of problems) {
      this.opts.logger.error(`cannot start run ${run.name}: ${formatProblem(p)}`, { event: 'run-failed', run: run.name, key: p.keyPath });
    }
    return problems;
  }
}
