// What the browser scripts share: the environment they are given, Chromium
// launched as this machine allows, axe-core, the phone-width check,
// screenshots, and a failure's page described in the log.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const shots = process.env.TEL_UI_SCREENSHOTS;
if (shots) mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export const TIMEOUT = 15_000;

export const step = (text) => console.log(`browser: ${text}`);

export async function screenshot(page, name) {
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** One part of a page (a locator), e.g. a panel. */
export async function screenshotOf(part, name) {
  if (shots) await part.screenshot({ path: join(shots, `${name}.png`) });
}

/** No serious or critical axe-core violation on the page as it is now. */
export async function accessible(page, what) {
  // Evaluated through the browser's debugging protocol, which the page's
  // Content-Security-Policy (scripts from 'self' only) does not govern.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`),
    [],
    `accessibility of ${what}`,
  );
}

/** At a phone's width nothing scrolls sideways. */
export async function fitsAPhone(page, what) {
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${what} scrolls sideways by ${overflow}px at 390px wide`);
  await page.setViewportSize(size);
}

/** A page that reports the app's own errors in the log. */
export async function newPage(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  return page;
}

/** A desktop-sized page signed in with `token`, on the operator console. */
export async function openConsole(browser, base, token) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await newPage(context);
  await page.goto(`${base}/ui/#token=${encodeURIComponent(token)}`);
  await page.getByRole('link', { name: 'Console' }).click();
  await page.getByRole('heading', { name: 'Operator console' }).waitFor();
  return { context, page };
}

/** On a failure: where each open page was, as a screenshot and its text, for the log. */
async function describeFailure(contexts) {
  const dir = shots || mkdtempSync(join(tmpdir(), 'tel-ui-failure-'));
  let n = 0;
  for (const context of contexts) {
    for (const page of context.pages()) {
      const file = join(dir, `failure-${(n += 1)}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      const text = await page.locator('body').innerText().catch(() => '(no text)');
      console.error(`browser: failed on ${page.url()} (screenshot ${file}); the page said:\n${text}`);
    }
  }
}

/** Runs `scenario(browser)` in headless Chromium, describing the pages if it fails. */
export async function inChromium(scenario) {
  const browser = await chromium.launch({
    executablePath: env('TEL_CHROMIUM'),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    await scenario(browser);
  } catch (e) {
    await describeFailure(browser.contexts());
    throw e;
  } finally {
    await browser.close();
  }
}
