// The browser half of tests/tests/browser.rs's inbox views test: a person
// in finance switches between their views (each with its count), sorts the
// group's tasks by due date, priority and creation, narrows them to the
// overdue ones, claims one straight from the list, sees a task that
// arrives while the page is open appear by itself, and searches the group's
// tasks by the fields the definition declares (employee, amount).
//
// Environment: TEL_UI_BASE, TEL_UI_USER_TOKEN, TEL_UI_VIEW_TITLES (the
// group's tasks' titles in creation order: due in three days / overdue /
// due in minutes / no due date), TEL_UI_MINE_TITLE, TEL_UI_DONE_TITLE,
// TEL_CHROMIUM, TEL_UI_SCREENSHOTS (optional).

import assert from 'node:assert/strict';
import { accessible, env, fitsAPhone, inChromium, newPage, screenshot, step } from './harness.mjs';

const base = env('TEL_UI_BASE');
const token = env('TEL_UI_USER_TOKEN');
const [inDays, overdue, inMinutes, noDue] = JSON.parse(env('TEL_UI_VIEW_TITLES'));

await inChromium(async (browser) => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await newPage(context);
  await page.goto(`${base}/ui/#token=${encodeURIComponent(token)}`);
  await page.getByRole('heading', { name: 'Inbox' }).waitFor();
  const views = page.getByRole('group', { name: 'Views' });
  const tab = (name) => views.getByRole('button', { name: new RegExp(`^${name}`) });
  const titles = () => page.locator('li.card a.card-title').allInnerTexts();
  const showing = async (expected) => {
    await page.waitForFunction(
      (want) => JSON.stringify([...document.querySelectorAll('li.card a.card-title')].map((a) => a.innerText)) === want,
      JSON.stringify(expected),
    );
  };

  // Each view's count on its tab.
  await tab('Group tasks').getByLabel('4 tasks').waitFor();
  await tab('Assigned to me').getByLabel('1 task', { exact: true }).waitFor();
  await tab('Completed by me').getByLabel('1 task', { exact: true }).waitFor();
  step('each view shows its count');

  // The group's unclaimed tasks, soonest due first (no due date last).
  await tab('Group tasks').click();
  await showing([overdue, inMinutes, inDays, noDue]);
  await page.getByLabel('Sort by').selectOption('priority');
  await showing([inMinutes, noDue, inDays, overdue]);
  await page.getByLabel('Sort by').selectOption('created');
  await showing([inDays, overdue, inMinutes, noDue]);
  await page.getByLabel('Due').selectOption('overdue');
  await showing([overdue]);
  await page.getByLabel('Due').selectOption('');
  await page.getByLabel('Sort by').selectOption('due');
  await showing([overdue, inMinutes, inDays, noDue]);
  step('the group view sorts by due date, priority and creation, and narrows to the overdue');
  await accessible(page, 'the inbox views');
  await fitsAPhone(page, 'the inbox views');
  await screenshot(page, 'inbox-views');

  // Claimed from the list: it moves from the group's view to the person's.
  await page.getByRole('button', { name: `Claim ${inMinutes}` }).click();
  await page.getByText(`You claimed “${inMinutes}”.`).waitFor();
  await showing([overdue, inDays, noDue]);
  await tab('Group tasks').getByLabel('3 tasks').waitFor();
  await tab('Assigned to me').getByLabel('2 tasks').waitFor();

  // With the keyboard: the tabs are buttons in the tab order.
  await tab('Assigned to me').focus();
  await page.keyboard.press('Enter');
  await showing([inMinutes, env('TEL_UI_MINE_TITLE')]);
  step('a claim from the group view moves the task to the person’s, reached with the keyboard');

  await tab('Completed by me').click();
  await showing([env('TEL_UI_DONE_TITLE')]);
  assert.match(await page.locator('li.card').first().innerText(), /Completed\s+\S/);
  step('the completed view lists what the person completed');

  // New work arrives while the page is open: it appears by itself, in place.
  await tab('Group tasks').click();
  await showing([overdue, inDays, noDue]);
  const arriving = {
    taskDefinitionId: 'approve-expense',
    workflowInstanceId: 'wf-views-arriving',
    stepId: 'approve',
    input: { employee: 'Zoe New', amount: 7, reason: 'arrives while the page is open' },
  };
  const sent = await fetch(`${base}/tasks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(arriving),
  });
  assert.equal(sent.status, 202);
  // Due in a day (the definition's dueInSeconds): between the overdue one and the one due in three days.
  await page.getByRole('link', { name: "Approve Zoe New's expense of 7 EUR" }).waitFor({ timeout: 30_000 });
  await tab('Group tasks').getByLabel('4 tasks').waitFor({ timeout: 15_000 });
  assert.deepEqual(await titles(), [overdue, "Approve Zoe New's expense of 7 EUR", inDays, noDue]);
  step('a task that arrives shows up in the open view by itself, in its place');

  // Search by what the tasks are about: the definition's declared fields.
  const search = page.getByRole('search', { name: 'Filter tasks' });
  await search.getByLabel('Definition').selectOption('approve-expense');
  await search.getByLabel('Field').selectOption('employee');
  await search.getByLabel('Match').selectOption('prefix');
  await search.getByLabel('Value').fill('DE');
  await search.getByLabel('Value').press('Enter');
  await showing([noDue]);
  assert.equal(await page.getByLabel('Sort by').count(), 0, 'a search comes in its field’s order');
  await tab('Group tasks').getByLabel('1 task', { exact: true }).waitFor();
  step('a prefix of the employee’s name finds their task, and the count follows');
  await search.getByLabel('Field').selectOption('amount');
  await search.getByLabel('Match').selectOption('range');
  await search.getByLabel('From').fill('1');
  await search.getByLabel('To').fill('2');
  await search.getByRole('button', { name: 'Apply' }).click();
  // Amounts 1 (due in three days) and 2 (overdue), in the amount's order.
  await showing([inDays, overdue]);
  await tab('Group tasks').getByLabel('2 tasks').waitFor();
  await accessible(page, 'the inbox search');
  await fitsAPhone(page, 'the inbox search');
  await screenshot(page, 'inbox-search');
  step('a range of amounts finds the tasks in it, in order');
  await search.getByRole('button', { name: 'Clear' }).click();
  await showing([overdue, "Approve Zoe New's expense of 7 EUR", inDays, noDue]);
  step('clearing the search shows the whole view again');

  // The person's own channels: mail off, saved at once.
  await page.getByText('Notifications', { exact: true }).click();
  const mail = page.getByLabel('Email me about tasks given to me or my groups');
  await mail.waitFor();
  assert.equal(await mail.isChecked(), true, 'on until turned off');
  await mail.uncheck();
  await page.getByText('Saved.').waitFor();
  const mine = await (
    await fetch(`${base}/me/notifications`, { headers: { authorization: `Bearer ${token}` } })
  ).json();
  assert.deepEqual(mine, { email: false, webhook: true });
  await accessible(page, 'the notification settings');
  step('the person turns their mail off from the inbox');
});
