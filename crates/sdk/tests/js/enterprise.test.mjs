// The H5 client for a principal without a device key (an enterprise user on /citizen/ pages).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { asset, page, server } from './browser.mjs';

server.role = 'enterprise';
Object.defineProperty(globalThis, 'navigator', { value: { userAgent: 'HeadlessChrome', webdriver: true } });
const { api } = await asset('api.js');

test('an enterprise user sends /me/ requests unsigned and loads no crypto', async () => {
  const error = await api('/api/v1/me/services').catch((e) => e);
  assert.equal(error.code, 'signature.required', 'the fake server requires signatures of everyone');
  assert.deepEqual(page.scripts, []);
  const request = page.requests.find((r) => r.target === '/api/v1/me/services');
  assert.equal(request.headers['x-bm-signature'], undefined);
  assert.equal(request.headers['x-bm-client'], 'h5; webdriver');
  assert.deepEqual(page.assigned, [], 'a signature refusal is not a lost session');
});

test('a challenge on a page without signing is solved without loading crypto scripts', async () => {
  server.challengeFirst.add('/api/v1/hall');
  assert.equal((await api('/api/v1/hall')).ok, true);
  assert.equal(page.requests.filter((r) => r.target === '/api/v1/hall').length, 2);
  assert.deepEqual(page.scripts, []);
});
