/**
 * `config.example.yaml` is valid as shipped (the demo runs on it), and so is each commented
 * `remote:` example once uncommented: they cannot rot into examples the loader refuses.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { formatProblem } from '../../src/util/errors.js';

const FILE = fileURLToPath(new URL('../../config.example.yaml', import.meta.url));
const TEXT = fs.readFileSync(FILE, 'utf8');

function load(text: string): Config {
  const r = parseConfigText(text, FILE, '/home/ana');
  if ('problems' in r) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.config;
}

/** Each commented top-level `# remote:` block, uncommented: its `# remote:` line and the `#   ` lines after it. */
function remoteExamples(): string[] {
  const blocks: string[] = [];
  let block: string[] | null = null;
  for (const line of TEXT.split('\n')) {
    if (line === '# remote:') block = ['remote:'];
    else if (block !== null && line.startsWith('#   ')) block.push(line.slice(2));
    else if (block !== null) {
      blocks.push(block.join('\n'));
      block = null;
    }
  }
  return blocks;
}

describe('config.example.yaml', () => {
  it('loads as shipped, with no remote (the demo pushes nowhere)', () => {
    const c = load(TEXT);
    expect(c.runs.map((r) => [r.name, r.remote])).toEqual([['demo', null]]);
  });

  it('each remote example (S3, R2, B2, MinIO) loads once uncommented, the R2 one once its account id is filled in', () => {
    const examples = remoteExamples();
    expect(examples).toHaveLength(4);
    const remotes = examples.map((block) => load(`${block.replace('<ACCOUNT_ID>', '0123abcd')}\n${TEXT}`).runs[0]!.remote);
    expect(remotes.map((r) => [r?.url, r?.endpoint, r?.region, r?.forcePathStyle])).toEqual([
      ['s3://my-bucket/ckptd', null, 'us-east-1', false],
      ['s3://my-bucket/ckptd', 'https://0123abcd.r2.cloudflarestorage.com', 'auto', false],
      ['s3://my-bucket/ckptd', 'https://s3.us-west-004.backblazeb2.com', 'us-west-004', false],
      ['s3://ckptd/team-a', 'http://127.0.0.1:9000', 'us-east-1', true],
    ]);
    expect(() => load(`${examples[1]!}\n${TEXT}`)).toThrow(/remote\.endpoint: still holds the placeholder <ACCOUNT_ID>/);
  });

  it("the run's commented override loads once uncommented, over the top-level remote", () => {
    const withOverride = TEXT.replace(/^ {4}# remote: /m, '    remote: ');
    expect(withOverride).not.toBe(TEXT);
    const run = load(`${remoteExamples()[0]!}\n${withOverride}`).runs[0]!;
    expect(run.remote).toMatchObject({ url: 's3://my-bucket/ckptd', push: 'all' });
  });
});
