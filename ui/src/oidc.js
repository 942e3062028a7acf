// The OIDC authorization-code flow with PKCE, for a public client (no
// secret in a web page). Only the verifier, state and nonce wait in
// sessionStorage across the redirect; tokens are returned to the caller and
// kept in memory only.

import { challengeOf, randomValue } from './pkce.js';

const PENDING = 'tel.oidc.pending';

export function redirectUri() {
  return `${location.origin}/ui`;
}

export async function discover(issuer, fetchImpl = fetch) {
  const response = await fetchImpl(`${issuer}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`the issuer's discovery document answered ${response.status}`);
  return response.json();
}

/** The authorization URL to send the browser to, and what to keep for the return. */
export async function authorization(config, metadata) {
  const pending = { verifier: randomValue(), state: randomValue(16), nonce: randomValue(16) };
  const url = new URL(metadata.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: config.scopes,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await challengeOf(pending.verifier),
    code_challenge_method: 'S256',
  }).toString();
  return { url: url.toString(), pending };
}

/** Where to land after signing in: the page asked for (a link from a
 * notification), if it is one of this app's routes; else the inbox. */
export function returnRoute(hash) {
  return /^#\/[A-Za-z0-9/_%.-]*$/.test(hash || '') ? hash : '#/inbox';
}

export async function begin(config) {
  const metadata = await discover(config.issuer);
  const { url, pending } = await authorization(config, metadata);
  pending.returnTo = returnRoute(location.hash);
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  location.assign(url);
}

/** On the return from the issuer: the code exchanged for tokens, or null if this is no return. */
export async function complete(config, fetchImpl = fetch) {
  const params = new URLSearchParams(location.search);
  if (!params.has('code') && !params.has('error')) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', `${location.pathname}${returnRoute(pending && pending.returnTo)}`);
  if (params.has('error')) {
    throw new Error(`sign-in refused: ${params.get('error_description') || params.get('error')}`);
  }
  if (!pending || pending.state !== params.get('state')) {
    throw new Error('sign-in answer does not match the request (state); sign in again');
  }
  const metadata = await discover(config.issuer, fetchImpl);
  const response = await fetchImpl(metadata.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code'),
      redirect_uri: redirectUri(),
      client_id: config.clientId,
      code_verifier: pending.verifier,
    }).toString(),
  });
  if (!response.ok) throw new Error(`the token exchange answered ${response.status}`);
  const tokens = await response.json();
  // The access token is what the API's JWT authorizer checks (its client_id
  // claim); an issuer that gives none for this client leaves the ID token.
  return tokens.access_token || tokens.id_token;
}
