/**
 * `ckptd ui --open` hands the browser a private launch page, never the token on a command line
 * (which every user of the machine reads in `ps`): the page is 0600 in a folder of its own made
 * 0700, sends the browser on to the fragment URL, and is gone when the panel stops.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { launchHtml, launchRoot, writeLaunchPage } from '../../src/ui/launch-page.js';
import { tempDir } from '../helpers/daemon-process.js';
import { loraPod } from '../helpers/lora-pod.js';
import { startUi } from '../helpers/ui-process.js';

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

const URL_WITH_TOKEN = 'http://127.0.0.1:8377/#token=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ';
const mode = (p: string): number => fs.statSync(p).mode & 0o777;

function scratch(): string {
  const t = tempDir('ckptd-launch-');
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('the launch page', () => {
  it('is a page of its own, 0600 in a new 0700 folder, that replaces itself with the URL', () => {
    const root = scratch();
    const page = writeLaunchPage(URL_WITH_TOKEN, root);
    expect(path.dirname(path.dirname(page.file))).toBe(root);
    expect(mode(page.file)).toBe(0o600);
    expect(mode(path.dirname(page.file))).toBe(0o700);
    const html = fs.readFileSync(page.file, 'utf8');
    expect(html).toContain(`location.replace(${JSON.stringify(URL_WITH_TOKEN)})`);
    expect(html).toContain(`<a href="${URL_WITH_TOKEN}">`);
    expect(writeLaunchPage(URL_WITH_TOKEN, root).file).not.toBe(page.file);
    page.remove();
    expect(fs.existsSync(path.dirname(page.file))).toBe(false);
    page.remove();
  });

  it('keeps any URL inside its script and attribute', () => {
    const html = launchHtml('http://x/#a"</script><b>&');
    expect(html).not.toContain('</script><b>');
    expect(html).toContain('href="http://x/#a&quot;&lt;/script>&lt;b>&amp;"');
  });

  it("is made in $XDG_RUNTIME_DIR when there is one, else in the system's temp folder", () => {
    const runtime = scratch();
    expect(launchRoot({ XDG_RUNTIME_DIR: runtime })).toBe(runtime);
    expect(launchRoot({ XDG_RUNTIME_DIR: path.join(runtime, 'missing') })).not.toContain(runtime);
    expect(launchRoot({ XDG_RUNTIME_DIR: 'relative' })).not.toBe('relative');
    expect(launchRoot({})).not.toContain(runtime);
  });
});

describe('ckptd ui --open', () => {
  it.runIf(process.platform === 'linux')('opens the launch page, not the URL, and removes it when it stops', async () => {
    const dir = scratch();
    const bin = path.join(dir, 'bin');
    const runtime = path.join(dir, 'runtime');
    const seen = path.join(dir, 'seen');
    fs.mkdirSync(bin);
    fs.mkdirSync(runtime, { mode: 0o700 });
    // Stands in for the desktop's opener: writes down its arguments, then what it was given.
    fs.writeFileSync(
      path.join(bin, 'xdg-open'),
      `#!/bin/sh\n{ printf 'argv %s\\n' "$*"; stat -c '%a' "$1"; stat -c '%a' "$(dirname "$1")"; cat "$1"; } > ${JSON.stringify(seen)}.tmp\nmv ${JSON.stringify(seen)}.tmp ${JSON.stringify(seen)}\n`,
      { mode: 0o755 },
    );
    const { cfg } = loraPod({ prefix: 'ckptd-ui-open-', top: '', backup: '{every: never}' }, cleanups);
    const ui = await startUi(cfg, { PATH: `${bin}:${process.env.PATH}`, DISPLAY: ':0', WAYLAND_DISPLAY: '', XDG_RUNTIME_DIR: runtime }, { open: true });
    cleanups.push(() => ui.stop());
    await expect.poll(() => fs.existsSync(seen), { timeout: 10_000 }).toBe(true);
    const [argv, fileMode, dirMode, ...html] = fs.readFileSync(seen, 'utf8').split('\n');
    const file = argv!.slice('argv '.length);
    expect(argv).not.toContain(ui.token);
    expect(path.dirname(path.dirname(file))).toBe(runtime);
    expect([fileMode, dirMode]).toEqual(['600', '700']);
    expect(html.join('\n')).toContain(`location.replace(${JSON.stringify(ui.url)})`);
    await ui.stop();
    expect(fs.existsSync(path.dirname(file))).toBe(false);
    expect(fs.readdirSync(runtime)).toEqual([]);
  });
});
