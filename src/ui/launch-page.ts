/**
 * The file `ckptd ui --open` hands to the desktop's opener instead of the URL: a command line is
 * readable by every user of the machine (`ps`), a file in a private folder is not. As Jupyter does,
 * it is a tiny HTML page that sends the browser on to the panel's URL, token fragment included.
 *
 * The folder is made by `mkdtemp` (mode 0700) under `$XDG_RUNTIME_DIR` when set (a per-user tmpfs
 * that no other user can list) or else the system temp folder; the file is written 0600, only
 * once (`wx`: never through a link someone put in its place). `remove()` deletes both.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface LaunchPage {
  /** The page's path, to pass to `xdg-open` / `open`. */
  file: string;
  /** Deletes the page and its folder (done when the panel stops); safe to call twice. */
  remove(): void;
}

/** The folder the private folder is made in: `$XDG_RUNTIME_DIR` if it is a folder, else the temp folder. */
export function launchRoot(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime) && fs.statSync(runtime, { throwIfNoEntry: false })?.isDirectory()) return runtime;
  return os.tmpdir();
}

/** The page's HTML: it replaces itself with `url` at once, and links to it for a browser without scripts. */
export function launchHtml(url: string): string {
  // `<` escaped: the URL cannot end the script element, whatever it holds.
  const js = JSON.stringify(url).replace(/</g, '\\u003c');
  const attr = url.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">' +
    `<title>ckptd · Version panel</title><script>location.replace(${js});</script></head>\n` +
    `<body><p><a href="${attr}">Open the ckptd Version panel</a></p></body></html>\n`
  );
}

/** Writes the launch page for `url` into a new private folder under `root`. */
export function writeLaunchPage(url: string, root: string = launchRoot()): LaunchPage {
  const dir = fs.mkdtempSync(path.join(root, 'ckptd-ui-'));
  const file = path.join(dir, 'open-panel.html');
  try {
    fs.writeFileSync(file, launchHtml(url), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
