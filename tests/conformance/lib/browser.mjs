// The headless Chromium both browser suites drive, the test page they serve, and the
// matrix row naming the browser and livekit-client versions that ran a check.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CONFORMANCE_DIR } from './local-server.mjs';
import { installedVersion } from './matrix.mjs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
export const PAGE_DIR = path.join(CONFORMANCE_DIR, 'page');
export const clientVersion = installedVersion('livekit-client');
let browserVersion = '?';

// Checks the built page and Chromium are there, and launches it.
export async function launchChromium() {
  assert.ok(existsSync(path.join(PAGE_DIR, 'dist/main.js')), 'page/dist/main.js missing: run `node build.mjs` first');
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} missing: apt-get install chromium (or set CHROMIUM_PATH)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  browserVersion = browser.version();
  return browser;
}

// A matrix row for a check run by livekit-client in the launched browser.
export const row = (route, check) => () => ({
  client: `livekit-client (npm) in headless Chromium ${browserVersion}`,
  version: clientVersion,
  route,
  check,
});
