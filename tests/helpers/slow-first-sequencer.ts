/**
 * The order test files start in (vitest's `sequence.sequencer`). With the durations of an earlier
 * run in vitest's cache, vitest's own order: the longest first. Without them (a clean clone, as CI
 * runs) vitest starts the largest files first, which left short files that drive daemons, the CLI
 * or a server for the end, where one of them alone stretched the run. Here, without durations,
 * the files that start processes go first (larger first), then the rest (larger first): with the
 * workers all busy, the run then ends on files of milliseconds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** A call that starts a process or a server: the CLI, a daemon, a trainer, S3, a browser. */
const STARTS_PROCESSES = /\b(?:startDaemon|runCli|runToEnd|startRun|spawn|spawnText|spawnSync|execFile|useS3Server|remoteWorld|remoteHarness|startS3Server|startUi|launchChromium)\(/;

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const key = (f: TestSpecification): string => `${f.project.name}:${path.relative(this.ctx.config.root, f.moduleId)}`;
    if (files.every((f) => this.ctx.cache.getFileTestResults(key(f)) !== undefined)) return super.sort(files);
    const weight = new Map(
      files.map((f) => {
        const text = fs.readFileSync(f.moduleId, 'utf8');
        return [f, (STARTS_PROCESSES.test(text) ? 1e9 : 0) + text.length] as const;
      }),
    );
    return [...files].sort((a, b) => weight.get(b)! - weight.get(a)!);
  }
}
