/**
 * The Version panel (`ckptd ui`) end to end, in headless Chromium, as a person uses it: the cards
 * and chart of a run made with the CLI; a snapshot with notes created from the page; one made by
 * the CLI meanwhile showing up live; a restore refused while a process writes the run (the reason
 * in the dialog), then done through the confirmation dialog (the run's files then match by hash);
 * pin, rename and delete. (Who may use it: ui-access.test.ts.) Takes a screenshot of the panel; with
 * UPDATE_SCREENSHOT=1 it replaces the README's docs/ui-panel.png (so a plain `npm test` leaves the
 * checkout clean).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEpoch } from '../../demo/fake-checkpoint.js';
import { launchChromium } from '../helpers/chromium.js';
import { ROOT, runCli, tempDir } from '../helpers/daemon-process.js';
import { opsSeen, recordOps } from '../helpers/panel-page.js';
import { startUi, type UiProcess } from '../helpers/ui-process.js';

interface Meta {
  id: string;
  kind: string;
  name: string | null;
  notes: string | null;
  pinned: boolean;
  epoch: number | null;
  step: number | null;
  files: { path: string; sha256: string; size: number }[];
}

/**
 * The few browser globals the tests touch inside `page.evaluate` (this project compiles without the
 * DOM library). Callbacks are sent to the page as source, so each casts `globalThis` itself.
 */
interface PageGlobals {
  stillHere?: boolean;
  document: {
    activeElement: { textContent: string | null; id: string } | null;
    getElementById(id: string): { replaceChildren(): void } | null;
    querySelector(selector: string): { scrollTo(x: number, y: number): void } | null;
  };
}

const SCREENSHOT = process.env.UPDATE_SCREENSHOT === '1' ? path.join(ROOT, 'docs', 'ui-panel.png') : path.join(os.tmpdir(), `ckptd-ui-panel-${process.pid}.png`);

let cleanup: () => void;
let run: string;
let cfg: string;
let ui: UiProcess;
let browser: Browser;
let page: Page;
/** Snapshot ids by the epoch they captured. */
const byEpoch = new Map<number, string>();

const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

async function cli(args: string[]): Promise<string> {
  const r = await runCli([...args, '--config', cfg, '--run', 'demo-run']);
  if (r.code !== 0) throw new Error(`ckptd ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

async function list(): Promise<Meta[]> {
  return JSON.parse(await cli(['list', '--json'])) as Meta[];
}

async function show(id: string): Promise<Meta> {
  return JSON.parse(await cli(['show', id, '--json'])) as Meta;
}

/**
 * Writes epoch `e` as a trainer would, then ages the files it just wrote so the state counts as
 * settled at once (the frozen config and tokenizer keep their first time, as on a real run).
 */
async function trainTo(e: number): Promise<void> {
  const started = Date.now() - 1000;
  await writeEpoch(run, e, { stepsPerEpoch: 500, modelBytes: 1_500_000, optimizerBytes: 3_000_000 });
  const past = new Date(Date.now() - 60_000 + e * 1000);
  for (const f of filesOf(run)) {
    if (fs.statSync(path.join(run, f)).mtimeMs >= started) fs.utimesSync(path.join(run, f), past, past);
  }
}

/** Every file under `dir`, relative, sorted. */
function filesOf(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out.sort();
}

/** Polls until the page shows what is expected (10 s: CI runs this beside other heavy tests). */
const eventually = <T>(fn: () => Promise<T> | T, timeout = 10_000) => expect.poll(fn, { timeout, interval: 50 });

const card = (id: string) => page.locator(`li[data-id="${id}"]`);
const dialog = () => page.locator('dialog[open]');

beforeAll(async () => {
  const t = tempDir('ckptd-ui-');
  cleanup = t.cleanup;
  run = path.join(t.dir, 'output');
  cfg = path.join(t.dir, 'ckptd.yaml');
  fs.writeFileSync(
    cfg,
    'runs:\n  - name: demo-run\n    path: ./output\n    settle: 200ms\n    progress: hf\n    backup: {every: never}\n' +
      '  - name: other-run\n    path: ./other\n    backup: {every: never}\n',
  );

  await trainTo(1);
  byEpoch.set(1, await cli(['snapshot', '--name', 'epoch 1 baseline', '--notes', 'lr 1e-4, batch 8\nfirst sample looks sane\nkeep for the ablation']));
  for (const e of [2, 3, 4]) {
    await trainTo(e);
    byEpoch.set(e, await cli(['backup-now']));
  }
  ui = await startUi(cfg);
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, colorScheme: 'light', deviceScaleFactor: 1 });
  page = await context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await ui?.stop();
  cleanup?.();
});

describe('ckptd ui', () => {
  it('shows each snapshot as a card and the loss over steps as a chart', async () => {
    await page.goto(ui.url);
    // The token leaves the address bar at once (ui-access.test.ts checks the rest of its way).
    await page.waitForURL((u) => !u.hash.includes('token'));
    expect(page.url()).not.toContain(ui.token);
    await eventually(() => page.locator('#cards > li').count()).toBe(4);
    const baseline = card(byEpoch.get(1)!);
    await eventually(() => baseline.locator('h3').textContent()).toBe('epoch 1 baseline');
    expect(await baseline.locator('.iter-badge').textContent()).toBe('Epoch 1 · Step 500');
    expect(await baseline.locator('.metric.loss').textContent()).toMatch(/^loss 1\.6/);
    expect(await baseline.locator('time').getAttribute('title')).toMatch(/\(\d{4}-\d\d-\d\dT.*Z\)$/);
    // Notes: the first line shows; the rest opens.
    expect(await baseline.locator('summary').textContent()).toBe('lr 1e-4, batch 8');
    expect(await baseline.locator('details p').isVisible()).toBe(false);
    await baseline.locator('summary').click();
    await eventually(() => baseline.locator('details p').isVisible()).toBe(true);
    expect(await baseline.locator('details p').textContent()).toBe('first sample looks sane\nkeep for the ablation');
    const backup = card(byEpoch.get(3)!);
    expect(await backup.locator('h3').textContent()).toBe('Backup · epoch 3');
    expect(await backup.locator('.own').textContent()).toMatch(/^own \d/);
    expect(await backup.locator('button', { hasText: 'Restore' }).count()).toBe(1);

    expect(await page.locator('.chart-svg .pt').count()).toBe(4);
    await page.locator(`.pt[data-id="${byEpoch.get(2)}"]`).click();
    await eventually(() => card(byEpoch.get(2)!).getAttribute('class')).toMatch(/selected/);
    // By keyboard: the selected point is the chart's one tab stop; arrows move along the line, Enter selects.
    await page.locator('.pt[tabindex="0"]').focus();
    expect(await page.locator('.pt[tabindex="0"]').getAttribute('data-id')).toBe(byEpoch.get(2));
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await eventually(() => card(byEpoch.get(3)!).getAttribute('class')).toMatch(/selected/);
    expect(await page.locator('.fig-value').first().textContent()).toMatch(/MB$/);
    await eventually(() => page.locator('#live-pill').textContent()).toBe('Live');
  });

  it('switches between the runs of the config', async () => {
    const picker = page.getByLabel('Run');
    expect(await picker.locator('option').allTextContents()).toEqual(['demo-run', 'other-run']);
    await picker.selectOption('other-run');
    await eventually(() => page.locator('#empty').isVisible()).toBe(true);
    expect(await page.locator('#cards > li').count()).toBe(0);
    expect(new URL(page.url()).hash).toBe('#run=other-run');
    await picker.selectOption('demo-run');
    await eventually(() => page.locator('#cards > li').count()).toBe(4);
    expect(await page.locator('#empty').isVisible()).toBe(false);
  });

  it('follows edits of the config file: a run added shows without reloading the page; an invalid edit changes nothing', async () => {
    const original = fs.readFileSync(cfg, 'utf8');
    const picker = page.getByLabel('Run');
    await page.evaluate(() => ((globalThis as unknown as PageGlobals).stillHere = true));
    fs.writeFileSync(cfg, `${original}  - name: third-run\n    path: ./third\n    backup: {every: never}\n`);
    await eventually(() => picker.locator('option').allTextContents()).toEqual(['demo-run', 'other-run', 'third-run']);
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).stillHere)).toBe(true);
    expect(await picker.inputValue()).toBe('demo-run');

    fs.writeFileSync(cfg, `${original}  - name: third-run\n    path: ./third\n    bakup: {every: never}\n`);
    await eventually(() => ui.output()).toMatch(/config edit not applied.*bakup/s);
    expect(await picker.locator('option').allTextContents()).toEqual(['demo-run', 'other-run', 'third-run']);

    fs.writeFileSync(cfg, original);
    await eventually(() => picker.locator('option').allTextContents()).toEqual(['demo-run', 'other-run']);
    await eventually(() => page.locator('#cards > li').count()).toBe(4);
  });

  it('creates a snapshot with a name and notes from the page', async () => {
    await trainTo(5);
    await page.getByRole('button', { name: 'Create snapshot' }).click();
    await dialog().getByLabel('Name').fill('from the panel');
    await dialog().getByLabel('Notes').fill('warmup done\nlr schedule switched to cosine');
    await dialog().getByRole('button', { name: 'Create snapshot' }).click();
    await eventually(() => dialog().count(), 20_000).toBe(0);
    const made = (await list()).find((r) => r.name === 'from the panel');
    expect(made).toMatchObject({ kind: 'manual', notes: 'warmup done\nlr schedule switched to cosine', epoch: 5, step: 2500 });
    byEpoch.set(5, made!.id);
    await eventually(() => card(made!.id).locator('h3').textContent()).toBe('from the panel');
    expect(await card(made!.id).getAttribute('class')).toMatch(/selected/);
  });

  it('shows a snapshot the CLI takes meanwhile without reloading the page', async () => {
    await page.evaluate(() => ((globalThis as unknown as PageGlobals).stillHere = true));
    await trainTo(6);
    const id = await cli(['snapshot', '--name', 'taken in the terminal']);
    byEpoch.set(6, id);
    await eventually(() => card(id).locator('h3').textContent()).toBe('taken in the terminal');
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).stillHere)).toBe(true);
    expect(await page.locator('.chart-svg .pt').count()).toBe(6);
  });

  it('refuses a restore while a process writes the run, with the reason in the dialog', async () => {
    const holder = spawn(process.execPath, ['-e', `require('fs').openSync(${JSON.stringify(path.join(run, 'model.safetensors'))}, 'r+'); console.log('open'); setInterval(() => {}, 1000)`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      await card(byEpoch.get(3)!).getByRole('button', { name: 'Restore' }).click();
      await eventually(() => dialog().locator('.warning').textContent()).toMatch(/file\(s\) to write/);
      await dialog().getByRole('button', { name: 'Restore' }).click();
      await eventually(() => dialog().locator('.dlg-error').textContent(), 15_000).toMatch(
        new RegExp(`^Refused: not restoring while the trainer is writing: .*model\\.safetensors is open for writing by pid ${holder.pid}`),
      );
      await dialog().getByRole('button', { name: 'Cancel' }).click();
      await eventually(() => dialog().count()).toBe(0);
    } finally {
      holder.kill('SIGKILL');
    }
    expect((await list()).filter((r) => r.kind === 'pre-restore')).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'trainer_state.json'), 'utf8')).epoch).toBe(6);
  });

  it('restores a snapshot through the confirmation dialog: the run then matches it byte for byte', async () => {
    const target = byEpoch.get(1)!;
    // Listen as the page does, to see the restore announced with its progress.
    await recordOps(page);
    await card(target).getByRole('button', { name: 'Restore' }).click();
    const d = dialog();
    await eventually(() => d.locator('.warning').textContent()).toMatch(/3 file\(s\) to write/);
    expect(await d.locator('.warning').textContent()).toMatch(/pre-restore snapshot/);
    expect(await d.locator('.details').textContent()).toMatch(/Epoch 1 · Step 500/);
    // A destructive dialog starts on Cancel: Enter alone does not restore.
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.textContent)).toBe('Cancel');
    await d.getByRole('button', { name: 'Restore' }).click();
    await eventually(() => dialog().count(), 20_000).toBe(0);

    const snap = await show(target);
    expect(filesOf(run)).toEqual(snap.files.map((f) => f.path).sort());
    for (const f of snap.files) expect(sha(path.join(run, f.path)), f.path).toBe(f.sha256);
    const pre = (await list()).find((r) => r.kind === 'pre-restore');
    expect(pre).toMatchObject({ epoch: 6 });
    const ops = (await opsSeen(page)).filter((e) => e.op === 'restore' && e.id === target);
    expect(ops[0]?.state).toBe('started');
    expect(ops.at(-1)?.state).toBe('done');
    // The three files that differed were staged; the last progress event says all of their bytes.
    const staged = snap.files.filter((f) => ['model.safetensors', 'optimizer.pt', 'trainer_state.json'].includes(f.path)).reduce((n, f) => n + f.size, 0);
    expect(ops.filter((e) => e.state === 'progress').at(-1)).toMatchObject({ done: staged, total: staged });
    await eventually(() => card(pre!.id).locator('.kind-chip').textContent()).toBe('Pre-restore');
  });

  it('pins and renames from the page', async () => {
    const four = byEpoch.get(4)!;
    await card(four).getByRole('button', { name: 'Pin' }).click();
    await eventually(() => card(four).locator('.pin-mark').count()).toBe(1);
    expect(await card(four).locator('[data-action="pin"]').getAttribute('aria-pressed')).toBe('true');
    expect((await show(four)).pinned).toBe(true);

    const three = byEpoch.get(3)!;
    // Keyboard: Enter opens the dialog with the focus in it; Escape closes it and gives the focus back.
    await card(three).getByRole('button', { name: 'Edit' }).focus();
    await page.keyboard.press('Enter');
    await eventually(() => page.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.id)).toBe('edit-name');
    await page.keyboard.press('Escape');
    await eventually(() => dialog().count()).toBe(0);
    expect(await card(three).locator('[data-action="edit"]').evaluate((b) => b === (globalThis as unknown as PageGlobals).document.activeElement)).toBe(true);
    await card(three).getByRole('button', { name: 'Edit' }).click();
    await dialog().getByLabel('Name').fill('warm restart point');
    await dialog().getByRole('button', { name: 'Save' }).click();
    await eventually(() => card(three).locator('h3').textContent()).toBe('warm restart point');
    expect((await show(three)).name).toBe('warm restart point');
  });

  it('deletes through the confirmation dialog, and the panel shows the run without it', async () => {
    const two = byEpoch.get(2)!;
    await card(two).getByRole('button', { name: 'Delete' }).click();
    await eventually(() => dialog().locator('.warning').textContent()).toMatch(/Deleting it frees \d/);
    await dialog().getByRole('button', { name: 'Delete' }).click();
    await eventually(() => card(two).count()).toBe(0);
    expect((await list()).map((r) => r.id)).not.toContain(two);
    expect(await page.locator('.chart-svg .pt').count()).toBe(6);

    // The screenshot for the README: a few snapshots, the chart, storage; one card selected.
    await page.locator(`.pt[data-id="${byEpoch.get(5)}"]`).click();
    await page.evaluate(() => {
      const { document } = globalThis as unknown as PageGlobals;
      document.getElementById('toasts')?.replaceChildren();
      document.querySelector('.timeline')?.scrollTo(0, 0);
    });
    await page.mouse.move(0, 0);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, animations: 'disabled' });
    expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    expect(fs.statSync(SCREENSHOT).size).toBeLessThan(400_000);
    if (process.env.UPDATE_SCREENSHOT !== '1') fs.rmSync(SCREENSHOT);
  });
});
