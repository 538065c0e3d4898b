/**
 * A real browser for the page tests: Debian's headless Chromium driven by puppeteer-core (`.ci/run`
 * installs the `chromium` package when it is missing).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The folder a test writes its screenshots to (`test/.output/NAME`, ignored by git). */
export function outputDir(name: string): string {
  const dir = fileURLToPath(new URL(`../.output/${name}/`, import.meta.url));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A headless Chromium with a fresh profile; `close()` also removes the profile. */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install -y chromium; .ci/run does it) or set CHROMIUM_PATH`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'emstream-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`],
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens a page that records its errors (uncaught exceptions and console errors). */
export async function openPage(browser: Browser, width = 1400, height = 1300): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e instanceof Error ? e.message : String(e)}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  await page.setViewport({ width, height });
  return { page, errors };
}
