// The browser half of tests/tests/browser.rs's sign-in test: the page at
// /ui signs in through an OIDC issuer (the authorization-code flow with
// PKCE), shows the person's inbox from the API with the token it got, keeps
// the token out of the address bar and out of storage, and asks to sign in
// again after a reload (the token lived in memory only).
//
// A link that carries a token in its fragment (`#token=`, the development
// sign-in) does nothing here: with an issuer, it would sign the person who
// opens it in as whoever the token is for.
//
// Environment: TEL_UI_BASE, TEL_UI_TASK (a task in the person's inbox),
// TEL_UI_PERSON (the name the issuer gives), TEL_UI_FOREIGN_TOKEN (a valid
// token of someone else's), TEL_CHROMIUM.

import assert from 'node:assert/strict';
import { accessible, env, inChromium, newPage, screenshot, step } from './harness.mjs';

const base = env('TEL_UI_BASE');

await inChromium(async (browser) => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await newPage(context);
  const signIn = page.getByRole('button', { name: 'Sign in with your organisation' });
  await page.goto(`${base}/ui#token=${encodeURIComponent(env('TEL_UI_FOREIGN_TOKEN'))}`);
  await signIn.waitFor();
  assert.equal(await page.getByText('Mallory').count(), 0, "not signed in as the link's owner");
  assert.ok(!page.url().includes('token='), 'the token is dropped from the address');
  step("a link with someone else's token in its fragment signs nobody in");
  await page.goto(`${base}/ui`);
  await signIn.waitFor();
  await accessible(page, 'the sign-in page');
  await screenshot(page, 'sign-in');
  await signIn.click();
  // To the issuer and back with a code, exchanged for a token.
  await page.getByRole('heading', { name: 'Inbox' }).waitFor();
  await page.getByText(env('TEL_UI_PERSON')).waitFor();
  await page.locator(`a[href="#/tasks/${env('TEL_UI_TASK')}"]`).waitFor();
  step('signed in through the issuer; the inbox came from the API');
  const url = new URL(page.url());
  assert.equal(url.search, '', 'no code or state left in the address');
  const stored = await page.evaluate(() => ({ session: sessionStorage.length, local: localStorage.length }));
  assert.deepEqual(stored, { session: 0, local: 0 }, 'nothing kept in storage once signed in');
  await page.reload();
  await signIn.waitFor();
  step('a reload asks to sign in again: the token was in memory only');
});
