// The browser half of tests/tests/browser.rs: a person works a manual task
// in the inbox; an admin pages the console, cancels, retries and reassigns
// tasks and redrives a dead letter. Every page is checked with axe-core (no
// serious or critical accessibility violation) and at a phone's width (no
// sideways scrolling).
// The Rust test prepares the stack and checks the outcomes there.
//
// Environment: TEL_UI_BASE, TEL_UI_USER_TOKEN, TEL_UI_OTHER_TOKEN, TEL_UI_ADMIN_TOKEN,
// TEL_UI_TASK (to complete), TEL_UI_CANCEL_TASK, TEL_UI_FAILED_TASK (to
// retry), TEL_UI_REASSIGN_TASK, TEL_UI_OVERDUE_TASK, TEL_CHROMIUM,
// TEL_UI_SCREENSHOTS (optional folder for screenshots).

import assert from 'node:assert/strict';
import { accessible, env, fitsAPhone, inChromium, newPage, screenshot, step } from './harness.mjs';

const base = env('TEL_UI_BASE');
const taskId = env('TEL_UI_TASK');
const cancelId = env('TEL_UI_CANCEL_TASK');

await inChromium(async (browser) => {
  // ---- A person in finance works the expense approval.
  const person = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await newPage(person);
  await page.goto(`${base}/ui/#token=${encodeURIComponent(env('TEL_UI_USER_TOKEN'))}`);
  await page.getByRole('heading', { name: 'Inbox' }).waitFor();
  assert.ok(!page.url().includes('token='), 'the token leaves the address bar');
  const taskLink = page.locator(`a[href="#/tasks/${taskId}"]`);
  await taskLink.waitFor();
  // Due dates on every card; the overdue mark only where the time has passed.
  const card = (id) => page.locator('li.card', { has: page.locator(`a[href="#/tasks/${id}"]`) });
  await card(env('TEL_UI_OVERDUE_TASK')).getByText('Overdue').waitFor();
  assert.equal(await card(taskId).getByText('Overdue').count(), 0);
  assert.match(await card(taskId).innerText(), /Due\s+\S/);
  // Each card is titled by what the task is about, the definition below it.
  await card(taskId).getByRole('link', { name: "Approve Dana Ortiz's expense of 412.8 EUR" }).waitFor();
  await card(taskId).getByText('approve-expense:1', { exact: true }).waitFor();
  step('the inbox lists the tasks by their titles, with due dates and the overdue mark');
  await accessible(page, 'the inbox');
  await fitsAPhone(page, 'the inbox');
  await screenshot(page, 'inbox');
  await page.setViewportSize({ width: 390, height: 844 });
  await screenshot(page, 'inbox-phone');
  await page.setViewportSize({ width: 1100, height: 900 });

  // Paging with the API's cursor: more tasks than the inbox's page of 20.
  const userToken = env('TEL_UI_USER_TOKEN');
  const asPerson = { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' };
  let pagingFirst = null;
  for (let i = 0; i < 20; i += 1) {
    const request = {
      taskDefinitionId: 'approve-expense',
      workflowInstanceId: `wf-paging-${i}`,
      stepId: 'approve',
      input: { employee: 'Dana Ortiz', amount: i, reason: 'paging' },
    };
    const sent = await fetch(`${base}/tasks`, { method: 'POST', headers: asPerson, body: JSON.stringify(request) });
    assert.equal(sent.status, 202);
    if (i === 0) pagingFirst = (await sent.json()).taskInstanceId;
  }
  for (let waited = 0; ; waited += 250) {
    const inbox = await (await fetch(`${base}/tasks?status=ASSIGNED&limit=100`, { headers: asPerson })).json();
    if (inbox.items.length >= 23) break;
    assert.ok(waited < 20_000, 'the submitted tasks are assigned');
    await new Promise((r) => setTimeout(r, 250));
  }
  await page.getByLabel('Status').selectOption('ASSIGNED');
  const inboxPager = page.getByRole('navigation', { name: 'Pages' });
  const links = () => page.locator('li.card a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  await page.waitForFunction(() => document.querySelectorAll('li.card').length === 20);
  const first = await links();
  await inboxPager.getByRole('button', { name: 'Next page' }).click();
  await page.waitForFunction((n) => document.querySelectorAll('li.card').length === n, 3);
  assert.ok((await links()).every((l) => !first.includes(l)), 'the second page holds other tasks');
  await inboxPager.getByRole('button', { name: 'Previous page' }).click();
  await page.waitForFunction((n) => document.querySelectorAll('li.card').length === n, 20);
  assert.deepEqual(await links(), first);
  await page.getByLabel('Status').selectOption('');
  step('the inbox pages with the cursor, forwards and back');

  // Claim straight from the list: the task is the person's now (listed
  // among their claimed ones), and no claim is offered for it any more.
  const listed = page.locator('li.card', { has: page.locator(`a[href="#/tasks/${pagingFirst}"]`) });
  await listed.getByRole('button', { name: "Claim Approve Dana Ortiz's expense of 0 EUR" }).click();
  await page.getByText("You claimed “Approve Dana Ortiz's expense of 0 EUR”.").waitFor();
  await page.getByLabel('Status').selectOption('CLAIMED');
  await listed.locator('.status-CLAIMED').waitFor();
  assert.equal(await listed.getByRole('button', { name: /^Claim / }).count(), 0, 'no claim offered any more');
  await page.getByLabel('Status').selectOption('');
  step('a task claimed straight from the list');

  // A race for a task: someone else in finance claims it while it is open here.
  await page.locator(`a[href="#/tasks/${cancelId}"]`).click();
  await page.getByRole('button', { name: 'Claim', exact: true }).waitFor();
  const taken = await fetch(`${base}/tasks/${cancelId}/claim`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env('TEL_UI_OTHER_TOKEN')}`, 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(taken.status, 200, 'the other person claims it');
  await page.getByRole('button', { name: 'Claim', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'Someone else (erik) claimed this task before you could claim it.' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Claim', exact: true }).count(), 0, 'no claim offered any more');
  step('a 409 says someone else claimed the task');
  await page.getByRole('link', { name: '← Inbox' }).click();

  await taskLink.click();
  await page.getByRole('heading', { name: "Approve Dana Ortiz's expense of 412.8 EUR" }).waitFor();
  await page.getByText('approve-expense:1', { exact: true }).waitFor();
  // The input, read-only, labelled as the definition's uiComponents say.
  const employee = page.getByLabel('Employee');
  await employee.first().waitFor();
  assert.equal(await employee.first().inputValue(), 'Dana Ortiz');
  assert.ok(await employee.first().isDisabled(), 'the input is read-only');
  // uiComponents: sections, the order and labels within them, widgets, help.
  const sections = await page.locator('.group-layout legend, .group-layout .group-layout-label').allInnerTexts();
  assert.deepEqual(sections.map((s) => s.trim()), ['Decision', 'Explanation']);
  const decision = await page.locator('.group-layout').first().locator('.control > label').allInnerTexts();
  assert.deepEqual(
    decision.map((l) => l.replace('*', '').trim()),
    ['Approve this expense', 'Amount approved (EUR)', 'Cost centre'],
  );
  assert.equal(await page.getByLabel('Comment').evaluate((e) => e.tagName), 'TEXTAREA');
  assert.equal(await page.getByRole('radio').count(), 3, 'the cost centre as radio buttons');
  await page.getByText('At most the amount claimed; 0 when rejected.').waitFor();
  step('the task page shows the input and the form');

  await page.getByRole('button', { name: 'Claim', exact: true }).click();
  await page.getByText('You claimed this task.').waitFor();
  await page.getByRole('button', { name: 'Unclaim' }).click();
  await page.getByText('You gave this task back.').waitFor();
  await page.locator('.status-ASSIGNED').first().waitFor();
  await page.getByRole('button', { name: 'Claim', exact: true }).click();
  await page.getByText('You claimed this task.').waitFor();
  step('claimed, given back, claimed again');

  // Invalid: over the maximum, too short, and no cost centre.
  await page.getByLabel('Approve this expense').check();
  await page.getByLabel('Amount approved (EUR)').fill('20000');
  await page.getByLabel('Comment').fill('ok');
  await page.getByRole('button', { name: 'Complete' }).click();
  await page.getByRole('alert').filter({ hasText: 'The form has 3 error(s)' }).waitFor();
  // Each message under its own field (a required field's label ends in '*').
  const errorAt = (label) => page.locator('.control', { hasText: label }).locator('.validation_error');
  for (const [label, text] of [
    ['Amount approved (EUR)', /maximum|10000/],
    ['Comment', /shorter|10/],
    ['Cost centre', /required/],
  ]) {
    assert.match(await errorAt(label).innerText(), text, `the error at ${label}`);
  }
  assert.equal(await errorAt('Approve this expense').count(), 0, 'no error where the value is right');
  step('the server-side errors show at their fields');
  await accessible(page, 'the form with errors');
  await fitsAPhone(page, 'the task page');
  await screenshot(page, 'task-form-errors');

  // Corrected, then completed.
  await page.getByLabel('Amount approved (EUR)').fill('400');
  await page.getByLabel('engineering').check();
  await page.getByLabel('Comment').fill('Within the travel policy; hotel capped.');
  await page.getByRole('button', { name: 'Complete' }).click();
  await page.getByText('Task completed.').waitFor();
  await page.locator('.status-COMPLETED').first().waitFor();
  const timeline = await page.getByRole('list', { name: 'History' }).innerText();
  for (const action of ['claimed', 'completed']) assert.match(timeline, new RegExp(action));
  step('completed; the history shows the claim and the completion');
  await screenshot(page, 'task-completed');

  // The inbox by status: only the completed task under "completed".
  await page.getByRole('link', { name: '← Inbox' }).click();
  await page.getByLabel('Status').selectOption('COMPLETED');
  await page.waitForFunction(
    (id) => {
      const links = [...document.querySelectorAll('li.card a')].map((a) => a.getAttribute('href'));
      return links.length === 1 && links[0] === `#/tasks/${id}`;
    },
    taskId,
  );
  step('the inbox filters by status');
  await person.close();

  // ---- An admin in the console.
  const operator = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const console_ = await newPage(operator);
  await console_.goto(`${base}/ui/#token=${encodeURIComponent(env('TEL_UI_ADMIN_TOKEN'))}`);
  await console_.getByRole('link', { name: 'Console' }).click();
  await console_.getByRole('heading', { name: 'Operator console' }).waitFor();
  await console_.getByRole('heading', { name: /requests queue: 2 message/ }).waitFor();
  await console_.getByRole('table', { name: 'Tasks', exact: true }).waitFor();
  await console_.getByRole('cell', { name: 'approve-expense:1' }).first().waitFor();
  const queues = console_.getByRole('table', { name: 'Queues' });
  for (const queue of ['requests', 'execute', 'manual', 'requests-dead-letter']) {
    await queues.getByRole('rowheader', { name: queue, exact: true }).waitFor();
  }
  await console_.getByRole('table', { name: /Tasks by status/ }).getByRole('rowheader', { name: 'COMPLETED' }).waitFor();
  step('the console shows queues, tasks and the dead letter');
  await accessible(console_, 'the console');

  // Paging with the API's cursor: there are more tasks than a page holds.
  const rows = console_.getByRole('table', { name: 'Tasks', exact: true }).locator('tbody a');
  const firstPage = await rows.allInnerTexts();
  const pager = console_.getByRole('navigation', { name: 'Task pages' });
  await pager.getByRole('button', { name: 'Next page' }).click();
  await console_.waitForFunction(
    (before) => {
      const links = [...document.querySelectorAll('table[aria-label="Tasks"] tbody a')].map((a) => a.textContent);
      return links.length > 0 && links.every((l) => !before.includes(l));
    },
    firstPage,
  );
  await pager.getByRole('button', { name: 'Previous page' }).click();
  await console_.waitForFunction(
    (before) => document.querySelector('table[aria-label="Tasks"] tbody a')?.textContent === before[0],
    firstPage,
  );
  step('the task list pages forwards and back');

  const taskList = console_.getByRole('region', { name: 'Tasks', exact: true });
  await taskList.getByLabel('Definition', { exact: true }).selectOption('approve-expense');
  await taskList.getByLabel('Status', { exact: true }).selectOption('CLAIMED');
  await console_.waitForFunction(() => {
    const statuses = [...document.querySelectorAll('table[aria-label="Tasks"] tbody .status')];
    return statuses.length > 0 && statuses.every((e) => e.textContent === 'CLAIMED');
  });
  await screenshot(console_, 'console');
  const row = console_.locator(`a[href="#/console/tasks/${cancelId}"]`);
  await row.click();
  await console_.getByRole('heading', { name: /approve-expense v1/ }).waitFor();
  await console_.getByRole('list', { name: 'Events' }).getByText('task.assigned').waitFor();
  // Its trace id, and its life so far drawn to scale.
  await console_.getByText(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/).waitFor();
  await console_.getByRole('list', { name: 'Timeline' }).getByText(/with a person: .* so far/).waitFor();
  await accessible(console_, 'a task in the console');
  await screenshot(console_, 'console-task');
  await console_.getByLabel('Reason').fill('Duplicate of an earlier claim');
  await console_.getByRole('button', { name: 'Cancel task' }).click();
  await console_.getByText('Task cancelled.').waitFor();
  await console_.locator('h1 .status-CANCELLED').waitFor();
  step('the admin cancelled a task');

  // Retry a failed task, found by its status.
  await console_.getByRole('link', { name: '← Console' }).click();
  await console_.getByLabel('Status', { exact: true }).selectOption('FAILED');
  await console_.locator(`a[href="#/console/tasks/${env('TEL_UI_FAILED_TASK')}"]`).click();
  await console_.getByRole('button', { name: 'Retry task' }).click();
  await console_.getByText('Task retried.').waitFor();
  await console_.getByRole('list', { name: 'History' }).getByText('rerun').waitFor();
  step('the admin retried a failed task');

  // The retry fails again on the same bad input: replay it with the input corrected.
  const failedTask = env('TEL_UI_FAILED_TASK');
  for (let waited = 0; ; waited += 250) {
    const asAdmin = { authorization: `Bearer ${env('TEL_UI_ADMIN_TOKEN')}` };
    const now = await (await fetch(`${base}/tasks/${failedTask}`, { headers: asAdmin })).json();
    if (now.task.status === 'FAILED') break;
    assert.ok(waited < 20_000, 'the retried task fails again');
    await new Promise((r) => setTimeout(r, 250));
  }
  await console_.evaluate(() => (location.hash = '#/console'));
  await console_.evaluate((id) => (location.hash = `#/console/tasks/${id}`), failedTask);
  const corrected = console_.getByLabel('Corrected input (JSON)');
  await corrected.waitFor();
  assert.equal(JSON.parse(await corrected.inputValue()).amount, -5, 'the editor starts from the input it had');
  await corrected.fill('{ "employee": "Dana Ortiz", "amount": "five", "reason": "negative" }');
  await console_.getByRole('button', { name: 'Replay with this input' }).click();
  await console_.getByRole('alert').filter({ hasText: '/amount' }).waitFor();
  await corrected.fill('{ "employee": "Dana Ortiz", "amount": 5, "reason": "corrected" }');
  await console_.getByRole('button', { name: 'Replay with this input' }).click();
  await console_.getByText('Task replayed with the corrected input.').waitFor();
  await console_.getByRole('list', { name: 'History' }).getByText('replayed').waitFor();
  await console_.getByRole('list', { name: 'Replaced inputs' }).getByText('"amount": -5').waitFor();
  await accessible(console_, 'a replayed task in the console');
  await screenshot(console_, 'console-replay');
  step('the admin replayed the failed task with corrected input, the old input kept');

  // Reassign a task to a person.
  // By its address: a route change within the page, which keeps the token.
  await console_.evaluate((id) => (location.hash = `#/console/tasks/${id}`), env('TEL_UI_REASSIGN_TASK'));
  await console_.getByRole('button', { name: 'Reassign' }).waitFor();
  await console_.getByLabel('Assign to').selectOption('USER');
  await console_.getByLabel('Id', { exact: true }).fill('dana');
  await console_.getByRole('button', { name: 'Reassign' }).click();
  await console_.getByText('Task reassigned.').waitFor();
  step('the admin reassigned a task');

  // A definition and its versions.
  await console_.getByRole('link', { name: '← Console' }).click();
  await console_.getByRole('region', { name: 'Definitions' }).getByRole('link', { name: 'approve-expense' }).click();
  await console_.getByRole('heading', { name: 'approve-expense' }).waitFor();
  // The latest version is shown once the catalogue has answered.
  await console_.getByText('"name": "approve-expense"').waitFor();
  assert.deepEqual(await console_.getByLabel('Version').locator('option').allInnerTexts(), ['1']);
  step('the console shows a definition and its versions');

  await console_.getByRole('link', { name: '← Console' }).click();
  // Two dead letters wait: only the one naming approve-expense goes back.
  await console_.getByRole('heading', { name: /requests queue: 2 message/ }).waitFor();
  await console_.locator('#redrive-only-requests').selectOption('approve-expense');
  await console_.getByRole('button', { name: 'Redrive the requests dead letters' }).click();
  await console_.getByText('Moved 1 message(s) back to the requests queue.').waitFor();
  await console_.getByRole('heading', { name: /requests queue: 1 message/ }).waitFor();
  step('the admin redrove the dead letter of one definition, and the other stayed');
  await operator.close();
});
