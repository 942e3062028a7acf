// Who is signed in: the token lives in this module's memory only (never in
// storage, so a reload signs in again), and the claims the UI shows.

import * as oidc from './oidc.js';

let token = null;

export function currentToken() {
  return token;
}

export function signOut() {
  token = null;
}

export function useToken(value) {
  token = value && value.trim() ? value.trim() : null;
}

/** The token's claims, read for display only: the API verifies it. */
export function claims() {
  if (!token) return null;
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch {
    return null;
  }
}

export function person(config) {
  const c = claims();
  if (!c) return null;
  const groups = c[config.groupsClaim] || [];
  const list = Array.isArray(groups) ? groups : String(groups).split(/[\s,]+/);
  return {
    user: c.sub,
    name: c.name || c.email || c['cognito:username'] || c.sub,
    groups: list,
    admin: list.includes(config.adminGroup),
  };
}

/**
 * Signs in from what the page was opened with: a development link
 * (`#token=…`, which tel dev prints; taken only in the development sign-in
 * mode) or the return from the OIDC issuer.
 */
export async function start(config) {
  const hash = location.hash;
  if (hash.startsWith('#token=')) {
    // Only the development sign-in takes a token from the address: with a
    // real issuer, a link carrying someone's token would sign the person
    // who opens it in as that someone (and their work would be theirs).
    history.replaceState(null, '', `${location.pathname}#/inbox`);
    if (config.signIn === 'dev') {
      useToken(decodeURIComponent(hash.slice('#token='.length)));
      return;
    }
  }
  if (config.signIn === 'oidc') {
    const received = await oidc.complete(config);
    if (received) useToken(received);
  }
}

export function beginOidc(config) {
  return oidc.begin(config);
}
