import { defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './tests/helpers/slow-first-sequencer.js';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests spawn real daemons and trainers; two cores are all CI has.
    maxWorkers: 2,
    // Without durations from an earlier run, the files that start processes first (see the class).
    sequence: { sequencer: SlowFirstSequencer },
  },
});
