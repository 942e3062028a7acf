import assert from 'node:assert/strict';
import { test } from 'node:test';
import { base64url, challengeOf, randomValue } from '../../src/pkce.js';

test('the S256 challenge matches RFC 7636, appendix B', async () => {
  assert.equal(
    await challengeOf('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'),
    'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
  );
});

test('verifiers are 43 unpadded base64url characters, fresh each time', () => {
  const a = randomValue();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, randomValue());
  assert.equal(base64url(new Uint8Array([251, 255])), '-_8');
});
