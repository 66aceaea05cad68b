// The H5 client as a citizen: signing, challenges, clock correction, enrolment failures.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CHALLENGE_TOKEN, asset, page, server, sm3 } from './browser.mjs';

const { api, postIdempotent, ApiError } = await asset('api.js');
const signing = await asset('signing.js');

const sent = (target) => page.requests.filter((r) => r.target === target);

test('pages that call no /me/ endpoint load no crypto', async () => {
  await api('/api/v1/hall');
  await api('/api/v1/me');
  assert.deepEqual(page.scripts, []);
  for (const request of page.requests) {
    assert.equal(request.headers['x-bm-client'], 'h5');
    assert.equal(request.headers['x-bm-signature'], undefined);
  }
});

test('a citizen signs /me/ requests, percent-encoded as the browser sends them', async () => {
  const answer = await api('/api/v1/me/traffic/violations?status=unpaid&plate=川A12345');
  assert.equal(answer.query, '?status=unpaid&plate=%E5%B7%9DA12345');
  assert.deepEqual(page.scripts.sort(), ['/vendor/sm-crypto/sm2.js', '/vendor/sm-crypto/sm3.js']);
  const [request] = sent('/api/v1/me/traffic/violations?status=unpaid&plate=%E5%B7%9DA12345');
  assert.equal(request.headers['x-bm-device'], 'dev-1');
  assert.match(request.headers['x-bm-nonce'], /^[0-9a-f]{32}$/);
  assert.match(request.headers['x-bm-signature'], /^[0-9a-f]{128}$/);
  assert.ok(Math.abs(Number(request.headers['x-bm-timestamp']) - Date.now() / 1000) < 5);
  const enrolment = page.requests.find((r) => r.target === '/api/v1/me/devices');
  assert.equal(enrolment.headers['x-bm-signature'], undefined, 'enrolment is not signed');
});

test('JSON bodies are signed as the exact bytes sent', async () => {
  const body = { plate: '川A12345', remark: '便民缴费 🚗' };
  const answer = await postIdempotent('/api/v1/me/traffic/payments', body, 'key-1');
  assert.equal(answer.body, JSON.stringify(body));
  const [request] = sent('/api/v1/me/traffic/payments');
  assert.equal(request.headers['idempotency-key'], 'key-1');
  assert.ok(request.headers['x-bm-signature']);
  assert.equal(await api('/api/v1/me/sscard/activate', { method: 'POST' }).then((a) => a.ok), true);
});

test('a challenge is solved and the request re-signed once', async () => {
  server.challengeFirst.add('/api/v1/me/hpf/account');
  const answer = await api('/api/v1/me/hpf/account');
  assert.equal(answer.ok, true);
  const [first, retry] = sent('/api/v1/me/hpf/account');
  assert.equal(first.headers['x-bm-challenge'], undefined);
  assert.match(retry.headers['x-bm-challenge'], new RegExp(`^${CHALLENGE_TOKEN}:\\d+$`));
  assert.notEqual(first.headers['x-bm-nonce'], retry.headers['x-bm-nonce']);
});

test('a wrong clock is corrected from the server\'s Date once', async () => {
  server.skewMs = 10 * 60 * 1000; // the page's clock is 10 minutes slow, from now on
  assert.equal((await api('/api/v1/me/inbox')).ok, true);
  const [first, retry] = sent('/api/v1/me/inbox');
  const moved = Number(retry.headers['x-bm-timestamp']) - Number(first.headers['x-bm-timestamp']);
  assert.ok(Math.abs(moved - 600) <= 2, `timestamp moved by ${moved} s`);
});

test('signature refusals do not send the citizen back to the login page', async () => {
  server.devices.clear(); // the device was revoked elsewhere: re-enrolled and retried once
  assert.equal((await api('/api/v1/me/loan')).ok, true);
  assert.equal(sent('/api/v1/me/loan').length, 2);
  server.devices.clear();
  server.enrolment = { status: 409, code: 'device.too_many' };
  const before = page.requests.length;
  const error = await api('/api/v1/me/profile').catch((e) => e);
  assert.ok(error instanceof ApiError);
  assert.equal(error.code, 'device.too_many', 'the reason the device cannot sign');
  assert.match(error.detail, /^本机设备未能完成签名，请求未发送。/);
  assert.deepEqual(page.assigned, []);
  assert.equal(page.requests.length - before, 2, 'the request, then a refused re-enrolment; no unsigned retry');
  server.enrolment = null;
});

test('no signature is sent when the device cannot be enrolled', async () => {
  // A fresh page state is not reachable here; forget the key so the next call enrols.
  const devicekey = await asset('devicekey.js');
  await devicekey.forgetDeviceKey();
  server.enrolment = { status: 409, code: 'device.too_many' };
  const before = page.requests.length;
  const error = await api('/api/v1/me/services').catch((e) => e);
  assert.ok(error instanceof ApiError);
  assert.equal(error.code, 'device.too_many');
  assert.match(error.detail, /^本机设备未能完成签名，请求未发送。/);
  assert.equal(sent('/api/v1/me/services').length, 0, 'nothing sent unsigned');
  assert.equal(page.requests.length - before, 1, 'only the enrolment');
  server.enrolment = null;
});

test('the canonical request and the proof of work match the specification', async () => {
  assert.equal(signing.canonicalQuery('b=2&&a=1&'), 'a=1&b=2');
  assert.equal(signing.canonicalQuery(''), '');
  assert.equal(
    await signing.canonicalRequest('post', '/api/v1/me/traffic/payments', 'b=2&a=1', 1750000000, '00112233445566778899AABBCCDDEEFF', ''),
    'bianmin.request.v1\nPOST\n/api/v1/me/traffic/payments\na=1&b=2\n1750000000\n00112233445566778899aabbccddeeff\n'
      + '1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b',
  );
  // The worked example of crates/guard/src/challenge/mod.rs.
  assert.equal(await signing.solveChallenge(`01${'00'.repeat(73)}`, { difficulty: 8 }), 143);
  await assert.rejects(signing.solveChallenge('01'), ApiError);
  await assert.rejects(signing.solveChallenge(`01${'00'.repeat(73)}`), { code: 'client.bad_challenge' }, 'difficulty 0');
  const controller = new AbortController();
  controller.abort();
  const hard = `01${'00'.repeat(32)}20${'00'.repeat(40)}`; // 32 bits: stopped by the signal
  await assert.rejects(signing.solveChallenge(hard, { signal: controller.signal }), { name: 'AbortError' });
});

test('the proof-of-work hash is the vendored SM3 of token and counter', () => {
  const counters = [0, 1, 143, 0xffff, 0x1_0000_0000, 0x1234_5678_9abc, Number.MAX_SAFE_INTEGER];
  for (let round = 0; round < 20; round += 1) {
    const token = crypto.getRandomValues(new Uint8Array(74));
    const digest = signing.powHasher(token);
    for (const counter of [...counters, Math.floor(Math.random() * 2 ** 40)]) {
      const input = new Uint8Array(82);
      input.set(token);
      new DataView(input.buffer).setBigUint64(74, BigInt(counter));
      const words = Array.from(digest(counter), (w) => (w >>> 0).toString(16).padStart(8, '0')).join('');
      assert.equal(words, sm3(input), `counter ${counter}`);
    }
  }
});
