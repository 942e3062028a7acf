// The browser half of tests/tests/browser.rs's charts test: an admin opens
// the console's charts for one definition, reads its throughput, attempt
// times and failures by error code, and the queues' depths, each drawn and
// each said in a sentence; a longer window reads in longer steps.
//
// Environment: TEL_UI_BASE, TEL_UI_ADMIN_TOKEN, TEL_UI_DEFINITION,
// TEL_UI_TOTALS (the throughput's sentence starts so), TEL_UI_FAILURES (the
// failed attempts by code, in the sentence's order), TEL_CHROMIUM,
// TEL_UI_SCREENSHOTS (optional).

import assert from 'node:assert/strict';
import { accessible, env, fitsAPhone, inChromium, openConsole, screenshotOf, step } from './harness.mjs';

const base = env('TEL_UI_BASE');
const token = env('TEL_UI_ADMIN_TOKEN');
const definition = env('TEL_UI_DEFINITION');
const totals = env('TEL_UI_TOTALS');
const failures = env('TEL_UI_FAILURES');

await inChromium(async (browser) => {
  const { context, page } = await openConsole(browser, base, token);
  const panel = page.getByRole('region', { name: 'Charts' });
  await panel.waitFor();
  await panel.getByLabel('Definition').selectOption(definition);
  await panel.getByLabel('Over').selectOption('60');

  const throughput = panel.getByRole('figure', { name: 'Tasks per minute' });
  await throughput.getByText(totals, { exact: false }).waitFor();
  step('the throughput chart says what the definition did in the hour');
  const failed = panel.getByRole('figure', { name: 'Failed attempts by error code, per minute' });
  await failed.getByText(`Failed attempts: ${failures}.`).waitFor();
  const times = panel.getByRole('figure', { name: 'Attempt time, p50 and p95' });
  await times.getByText(/^Over the window: p50 \d+ ms, p95 \d+ ms of \d+ attempts\.$/).waitFor();
  const queues = panel.getByRole('figure', { name: 'Messages waiting, by queue (deepest sample)' });
  await queues.getByText(/^Deepest: .*execute \d+/).waitFor();
  step('failures by code, attempt times and queue depths are said too');

  // Each is drawn: a canvas with the lines its legend names.
  assert.equal(await panel.locator('figure[data-chart] canvas').count(), 4);
  const legend = async (chart) => (await panel.locator(`figure[data-chart="${chart}"] .u-legend .u-label`).allInnerTexts()).filter(Boolean);
  assert.deepEqual(await legend('chart-throughput'), ['Time', 'created', 'completed', 'failed', 'cancelled']);
  assert.deepEqual(await legend('chart-times'), ['Time', 'p50', 'p95']);
  assert.deepEqual(await legend('chart-failures'), ['Time', 'INTEGRATION_ERROR', 'EXECUTION_ERROR']);
  assert.ok((await legend('chart-queues')).includes('execute'));
  step('each chart draws its lines');
  await accessible(page, 'the charts');
  await screenshotOf(panel, 'console-charts');
  await fitsAPhone(page, 'the charts');

  await panel.getByLabel('Over').selectOption('1440');
  await panel.getByRole('figure', { name: 'Tasks per 15 minutes' }).getByText(totals, { exact: false }).waitFor();
  step('a day reads in steps of 15 minutes, with the same totals');
  await context.close();
});
