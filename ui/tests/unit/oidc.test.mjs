// The sign-in's two halves against a fake issuer: the authorization URL a
// browser is sent to, and the return, where the code is exchanged with the
// verifier whose challenge went out first.

import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { challengeOf } from '../../src/pkce.js';

const issuer = 'https://issuer.example/pool';
const config = { signIn: 'oidc', issuer, clientId: 'tel-ui', scopes: 'openid email' };
const metadata = {
  authorization_endpoint: 'https://login.example/oauth2/authorize',
  token_endpoint: 'https://login.example/oauth2/token',
};

// A browser's globals, enough for oidc.js.
function browserAt(url) {
  const storage = new Map();
  globalThis.location = Object.assign(new URL(url), { assign: (to) => (globalThis.location.assigned = to) });
  globalThis.history = { replaceState: (_s, _t, to) => (globalThis.location.replaced = to) };
  globalThis.sessionStorage = {
    getItem: (k) => storage.get(k) ?? null,
    setItem: (k, v) => storage.set(k, v),
    removeItem: (k) => storage.delete(k),
  };
}

const oidc = await import('../../src/oidc.js');

beforeEach(() => browserAt('https://api.example/ui'));

test('the authorization request carries the client, the return address and an S256 challenge', async () => {
  const { url, pending } = await oidc.authorization(config, metadata);
  const sent = new URL(url);
  assert.equal(sent.origin + sent.pathname, metadata.authorization_endpoint);
  const p = Object.fromEntries(sent.searchParams);
  assert.equal(p.response_type, 'code');
  assert.equal(p.client_id, 'tel-ui');
  assert.equal(p.redirect_uri, 'https://api.example/ui');
  assert.equal(p.scope, 'openid email');
  assert.equal(p.code_challenge_method, 'S256');
  assert.equal(p.code_challenge, await challengeOf(pending.verifier));
  assert.equal(p.state, pending.state);
});

test('the return exchanges the code with the verifier and leaves no code in the address', async () => {
  const { pending } = await oidc.authorization(config, metadata);
  sessionStorage.setItem('tel.oidc.pending', JSON.stringify(pending));
  browserAt(`https://api.example/ui?code=the-code&state=${pending.state}`);
  sessionStorage.setItem('tel.oidc.pending', JSON.stringify(pending));
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, init });
    if (url.endsWith('/.well-known/openid-configuration')) return { ok: true, json: async () => metadata };
    return { ok: true, json: async () => ({ access_token: 'access', id_token: 'id' }) };
  };
  assert.equal(await oidc.complete(config, fetchImpl), 'access');
  const exchange = calls.find((c) => c.url === metadata.token_endpoint);
  const form = Object.fromEntries(new URLSearchParams(exchange.init.body));
  assert.deepEqual(form, {
    grant_type: 'authorization_code',
    code: 'the-code',
    redirect_uri: 'https://api.example/ui',
    client_id: 'tel-ui',
    code_verifier: pending.verifier,
  });
  assert.equal(location.replaced, '/ui#/inbox');
  assert.equal(sessionStorage.getItem('tel.oidc.pending'), null, 'the verifier is used once');
});

test('a return whose state does not match is refused, and nothing is exchanged', async () => {
  browserAt('https://api.example/ui?code=stolen&state=forged');
  sessionStorage.setItem('tel.oidc.pending', JSON.stringify({ verifier: 'v', state: 'mine', nonce: 'n' }));
  let fetched = false;
  await assert.rejects(
    oidc.complete(config, async () => {
      fetched = true;
    }),
    /does not match/,
  );
  assert.equal(fetched, false);
});

test('a page opened without a code is no return', async () => {
  assert.equal(await oidc.complete(config, async () => assert.fail('no call')), null);
});

test('a link to a task (from a notification) is where the return lands; anything else lands on the inbox', async () => {
  assert.equal(oidc.returnRoute('#/tasks/01a23af9-4e0c-71e5-b298-5fa299c1e9f4'), '#/tasks/01a23af9-4e0c-71e5-b298-5fa299c1e9f4');
  for (const other of ['', '#token=abc', '#/tasks/x?next=https://evil.example', 'javascript:alert(1)', null]) {
    assert.equal(oidc.returnRoute(other), '#/inbox', String(other));
  }
  const { pending } = await oidc.authorization(config, metadata);
  pending.returnTo = '#/tasks/01a23af9';
  browserAt(`https://api.example/ui?code=c&state=${pending.state}`);
  sessionStorage.setItem('tel.oidc.pending', JSON.stringify(pending));
  const fetchImpl = async (url) =>
    url.endsWith('/.well-known/openid-configuration')
      ? { ok: true, json: async () => metadata }
      : { ok: true, json: async () => ({ access_token: 'access' }) };
  await oidc.complete(config, fetchImpl);
  assert.equal(location.replaced, '/ui#/tasks/01a23af9');
});
