/**
 * The Version panel with a remote (issue 13), end to end in headless Chromium against a real S3 API
 * server (s3rver): a pod pushed a snapshot and is gone; on a new machine, `ckptd ui` shows it as a
 * remote-only card beside a local one, with the run's push status; Pull (clicked, confirmed) copies
 * it into the local store and the card then says it lives in both places; Push sends the local one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.js';
import { runCli } from '../helpers/daemon-process.js';
import { loraPod, s3Remote, trainLora, type LoraPod } from '../helpers/lora-pod.js';
import { opsSeen, recordOps } from '../helpers/panel-page.js';
import { startS3Server, TEST_ACCESS_KEY, TEST_SECRET_KEY, type S3TestServer } from '../helpers/s3-server.js';
import { startUi, type UiProcess } from '../helpers/ui-process.js';

const ENV = { AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: TEST_SECRET_KEY, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

let s3: S3TestServer;
const cleanups: (() => unknown)[] = [];
let ui: UiProcess;
let browser: Browser;
let page: Page;
let podB: LoraPod;
let pushedFromA: string;
let localOnB: string;

/** A machine whose run `lora` pushes to `bucket`. */
function pod(bucket: string): LoraPod {
  return loraPod({ prefix: 'ckptd-ui-remote-', top: s3Remote(bucket, s3.endpoint), backup: '{every: never}' }, cleanups);
}

async function cli(cfg: string, ...args: string[]): Promise<string> {
  const r = await runCli(['--config', cfg, ...args], { env: ENV });
  if (r.code !== 0) throw new Error(`ckptd ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

const eventually = <T>(fn: () => Promise<T> | T, timeout = 15_000) => expect.poll(fn, { timeout, interval: 50 });
const card = (id: string) => page.locator(`li[data-id="${id}"]`);
const dialog = () => page.locator('dialog[open]');

beforeAll(async () => {
  s3 = await startS3Server();
  const bucket = await s3.newBucket();
  // A rented pod took a snapshot and pushed it; then it was deleted.
  const a = pod(bucket);
  trainLora(a.run, 100);
  pushedFromA = (JSON.parse(await cli(a.cfg, 'snapshot', '--name', 'from the old pod', '--json')) as { id: string }).id;
  await cli(a.cfg, 'push');
  // The new machine has a snapshot of its own, not pushed yet.
  podB = pod(bucket);
  trainLora(podB.run, 7);
  localOnB = (JSON.parse(await cli(podB.cfg, 'snapshot', '--name', 'this machine', '--json')) as { id: string }).id;
  ui = await startUi(podB.cfg, ENV);
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1360, height: 860 } })).newPage();
});

afterAll(async () => {
  await browser?.close();
  await ui?.stop();
  for (const c of cleanups.reverse()) await c();
  await s3?.stop();
});

describe('ckptd ui with a remote', () => {
  it('shows where each snapshot lives and the push status', async () => {
    await page.goto(ui.url);
    await eventually(() => page.locator('#cards > li').count()).toBe(2);
    await eventually(() => card(pushedFromA).locator('.where').textContent()).toBe('Remote');
    expect(await card(localOnB).locator('.where').textContent()).toBe('Local');
    // A remote-only snapshot: restore from the remote or pull; nothing that needs a local copy.
    expect(await card(pushedFromA).locator('button').allTextContents()).toEqual(['Restore', 'Pull']);
    expect(await card(localOnB).getByRole('button', { name: 'Push' }).count()).toBe(1);
    // This machine's own snapshot is queued for push, as a daemon queues what it takes.
    expect(await page.locator('#remote-pill').textContent()).toBe('Pushing · 1 queued');
    expect(await page.locator('#remote-pill').getAttribute('title')).toMatch(/^Remote: s3:\/\/t-[0-9a-f]+\/team \(push backups\)/);
    expect(await page.locator('#remote-notice').isVisible()).toBe(false);
  });

  it('pulls a remote-only snapshot by clicking: its card then lives in both places', async () => {
    await recordOps(page);
    await card(pushedFromA).getByRole('button', { name: 'Pull' }).click();
    await eventually(() => dialog().textContent()).toMatch(/Copies its [0-9.]+ MB from the remote into this machine/);
    await dialog().getByRole('button', { name: 'Pull' }).click();
    await eventually(() => dialog().count(), 30_000).toBe(0);
    await eventually(() => card(pushedFromA).locator('.where').textContent()).toBe('Local + remote');
    expect(fs.readFileSync(path.join(podB.store, 'snapshots', pushedFromA, 'files', 'model.safetensors'), 'utf8')).toBe('weights at 100');
    const listed = JSON.parse(await cli(podB.cfg, 'list', '--json')) as { id: string; remote: boolean }[];
    expect(listed.find((r) => r.id === pushedFromA)).toMatchObject({ remote: true });
    // Now local, it has the local buttons.
    expect(await card(pushedFromA).getByRole('button', { name: 'Delete' }).count()).toBe(1);
    const ops = (await opsSeen(page)).filter((e) => e.op === 'pull' && e.id === pushedFromA);
    expect(ops[0]?.state).toBe('started');
    expect(ops.some((e) => e.state === 'progress')).toBe(true);
    expect(ops.at(-1)?.state).toBe('done');
  });

  it('pushes a local snapshot by clicking; the push status says so', async () => {
    await card(localOnB).getByRole('button', { name: 'Push' }).click();
    await dialog().getByRole('button', { name: 'Push' }).click();
    await eventually(() => dialog().count(), 30_000).toBe(0);
    await eventually(() => card(localOnB).locator('.where').textContent()).toBe('Local + remote');
    await eventually(() => page.locator('#remote-pill').textContent()).toMatch(/^Pushed /);
    const remote = JSON.parse(await cli(podB.cfg, 'list', '--remote', '--json')) as { id: string }[];
    expect(remote.map((r) => r.id).sort()).toEqual([pushedFromA, localOnB].sort());
  });
});
