import { defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './tests/helpers/slow-first-sequencer.js';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests spawn real daemons and trainers, and wait on them: with two workers on the
    // two cores CI has, the suite kept 1.4 cores busy (5.5 min); a third worker fills the waits
    // (4.8 min on a quiet machine), and every test passed with three beside other work (load 7).
    maxWorkers: 3,
    // Without durations from an earlier run, the files that start processes first (see the class).
    sequence: { sequencer: SlowFirstSequencer },
  },
});
