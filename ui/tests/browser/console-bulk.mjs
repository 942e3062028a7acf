// The browser half of tests/tests/browser.rs's bulk action test: an admin
// selects one definition's failed tasks by error code in the console,
// sees how many match, confirms, and follows the operation to its end; the
// recent operations list it.
//
// Environment: TEL_UI_BASE, TEL_UI_ADMIN_TOKEN, TEL_UI_DEFINITION,
// TEL_UI_ERROR_CODE, TEL_UI_MATCHING (how many should match), TEL_CHROMIUM,
// TEL_UI_SCREENSHOTS (optional).

import { accessible, env, fitsAPhone, inChromium, openConsole, screenshot, step } from './harness.mjs';

const base = env('TEL_UI_BASE');
const token = env('TEL_UI_ADMIN_TOKEN');
const definition = env('TEL_UI_DEFINITION');
const code = env('TEL_UI_ERROR_CODE');
const matching = Number(env('TEL_UI_MATCHING'));

await inChromium(async (browser) => {
  const { context, page } = await openConsole(browser, base, token);
  const panel = page.getByRole('region', { name: 'Bulk actions' });
  await panel.waitFor();
  await panel.getByLabel('Action').selectOption('retry');
  await panel.getByLabel('Tasks of definition').selectOption(definition);
  await panel.getByRole('checkbox', { name: 'FAILED' }).check();
  await panel.getByLabel('Error code').fill(code);
  await panel.getByLabel('Tasks per second').fill('10');
  await panel.getByRole('button', { name: 'Count matching tasks' }).click();
  await panel.getByText(`${matching} tasks of ${definition} match.`).waitFor();
  step('the console counts the failed tasks the filter matches');

  await panel.getByRole('button', { name: `Retry ${matching} tasks…` }).click();
  const confirm = panel.getByRole('alertdialog');
  await confirm.getByText(`Retry ${matching} tasks of ${definition}?`).waitFor();
  await accessible(page, 'the bulk action, confirming');
  await screenshot(page, 'console-bulk-confirm');
  await confirm.getByRole('button', { name: `Confirm: retry ${matching} tasks` }).click();
  step('the admin confirms the retry');

  const bar = panel.getByRole('progressbar', { name: `Operation retry of ${definition}` });
  await bar.waitFor();
  await panel.getByText(`Done: ${matching} acted on, 0 skipped, 0 failed of ${matching} selected`).waitFor({ timeout: 60_000 });
  step('the progress follows the operation to its end');
  const recent = panel.getByRole('table', { name: 'Recent operations' });
  await recent.getByRole('cell', { name: 'DONE' }).waitFor();
  await accessible(page, 'the bulk action, done');
  await fitsAPhone(page, 'the bulk action');
  await screenshot(page, 'console-bulk');
  step('the recent operations list it');
  await context.close();
});
