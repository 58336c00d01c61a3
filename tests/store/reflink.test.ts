import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { supportsReflink } from '../../src/store/reflink.js';

describe('supportsReflink', () => {
  it('says no on tmpfs (it has no copy-on-write clones) and leaves nothing behind', async () => {
    const dir = fs.mkdtempSync(path.join('/dev/shm', 'ckptd-reflink-'));
    try {
      expect(await supportsReflink(dir)).toBe(false);
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never throws, even for a folder that does not exist', async () => {
    expect(await supportsReflink('/nonexistent/ckptd')).toBe(false);
  });
});
