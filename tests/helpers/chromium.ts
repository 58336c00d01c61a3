/**
 * Headless Chromium for end-to-end tests: Debian's `/usr/bin/chromium` (installed by `.ci/run`
 * when missing) driven by playwright-core, which downloads no browser of its own. The flags keep
 * it off the network (no background fetches to hosts this machine cannot reach) and let it run as root.
 */
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CKPTD_CHROMIUM ?? '/usr/bin/chromium';

/** Launches headless Chromium; throws, saying how to install it, when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (.ci/run does), or set CKPTD_CHROMIUM`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}
