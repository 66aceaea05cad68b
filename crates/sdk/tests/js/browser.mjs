// A stand-in browser page and server for the H5 modules (web/assets/api.js, signing.js,
// devicekey.js) in Node: globals the modules use, a fetch answered by a fake server that checks
// signatures independently of signing.js, and a document whose <script> tags load the vendored
// sm-crypto files as a browser would.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const sm2 = require(path.join(root, 'web/vendor/sm-crypto/sm2.js'));
/** The vendored SM3, as the page gets it (a function from bytes or a string to hex). */
export const sm3 = require(path.join(root, 'web/vendor/sm-crypto/sm3.js'));
export const ORIGIN = 'https://bianmin.example';
const USER_ID = '1234567812345678';
/** A well-formed challenge token of difficulty 8 (byte 33). */
export const CHALLENGE_TOKEN = `01${'a5'.repeat(32)}08${'00'.repeat(40)}`;

/** Everything the page did: requests sent, scripts inserted, navigation. */
export const page = { requests: [], scripts: [], assigned: [] };

/** How the fake server behaves; tests change it. */
export const server = {
  role: 'citizen',
  devices: new Map(), // device id → public key
  enrolment: null, // a problem to refuse enrolment with, e.g. { status: 409, code: 'device.too_many' }
  challengeFirst: new Set(), // paths answered 428 until a right answer comes
  skewMs: 0, // the server's clock minus the page's
};

function problem(status, code, extra = {}, headers = {}) {
  return new Response(JSON.stringify({ status, code, detail: `${code} 的中文说明`, ...extra }), {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });
}

function json(status, body) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function leadingZeroBits(hex) {
  let bits = 0;
  for (const digit of hex) {
    const nibble = parseInt(digit, 16);
    if (nibble !== 0) return bits + Math.clz32(nibble) - 28;
    bits += 4;
  }
  return bits;
}

/** The server's signature check, written apart from signing.js from the specification. */
function verifySignature(method, url, headers, body) {
  const device = headers['x-bm-device'];
  const publicKey = server.devices.get(device);
  if (!publicKey) return 'signature.unknown_device';
  const query = url.search.slice(1).split('&').filter((p) => p !== '').sort().join('&');
  const message = [
    'bianmin.request.v1', method.toUpperCase(), url.pathname, query,
    headers['x-bm-timestamp'], headers['x-bm-nonce'].toLowerCase(),
    sm3(new TextEncoder().encode(body || '')),
  ].join('\n');
  const ok = sm2.doVerifySignature(message, headers['x-bm-signature'], publicKey, { hash: true, userId: USER_ID });
  return ok ? null : 'signature.invalid';
}

function answerChallenge(answer) {
  const [token, counter] = (answer || '').split(':');
  if (token !== CHALLENGE_TOKEN) return false;
  const input = new Uint8Array(82);
  for (let i = 0; i < 74; i += 1) input[i] = parseInt(token.slice(2 * i, 2 * i + 2), 16);
  new DataView(input.buffer).setBigUint64(74, BigInt(counter));
  return leadingZeroBits(sm3(input)) >= 8;
}

async function fakeFetch(target, init = {}) {
  const url = new URL(target, ORIGIN);
  const method = init.method || 'GET';
  const headers = Object.fromEntries(Object.entries(init.headers || {}).map(([k, v]) => [k.toLowerCase(), v]));
  const body = init.body;
  page.requests.push({ method, target: url.pathname + url.search, headers, body });
  if (url.pathname === '/api/v1/me') return json(200, { id: 'p-1', role: server.role });
  if (url.pathname === '/api/v1/me/devices' && method === 'POST') {
    if (server.enrolment) return problem(server.enrolment.status, server.enrolment.code);
    const { public_key: publicKey } = JSON.parse(body);
    const id = `dev-${server.devices.size + 1}`;
    server.devices.set(id, publicKey);
    return json(201, { id, public_key: publicKey, active: true });
  }
  if (url.pathname.startsWith('/api/v1/me/')) {
    const signed = ['x-bm-device', 'x-bm-timestamp', 'x-bm-nonce', 'x-bm-signature'].filter((h) => headers[h]);
    if (signed.length === 0) return problem(401, 'signature.required');
    if (signed.length < 4) return problem(401, 'signature.malformed');
    const refused = verifySignature(method, url, headers, body);
    if (refused) return problem(401, refused);
    const serverNow = Date.now() + server.skewMs;
    if (Math.abs(Number(headers['x-bm-timestamp']) * 1000 - serverNow) > 300000) {
      return problem(401, 'signature.stale', {}, { date: new Date(serverNow).toUTCString() });
    }
  }
  if (server.challengeFirst.has(url.pathname)) {
    const answer = headers['x-bm-challenge'];
    if (!answer) return problem(428, 'guard.challenge', { challenge: { token: CHALLENGE_TOKEN, difficulty: 8 } });
    if (!answerChallenge(answer)) return problem(428, 'guard.challenge_failed', { challenge: { token: CHALLENGE_TOKEN } });
  }
  return json(200, { ok: true, query: url.search, body: body || null });
}

const storage = new Map();
globalThis.location = { origin: ORIGIN, assign: (to) => page.assigned.push(to) };
globalThis.window = { location: globalThis.location };
Object.defineProperty(globalThis, 'navigator', { value: { userAgent: 'Mozilla/5.0 (iPhone)', webdriver: false }, configurable: true });
globalThis.localStorage = {
  getItem: (k) => (storage.has(k) ? storage.get(k) : null),
  setItem: (k, v) => storage.set(k, String(v)),
  removeItem: (k) => storage.delete(k),
};
globalThis.document = {
  body: { hasAttribute: (name) => name === 'data-roles' },
  createElement: () => ({}),
  head: {
    // A classic <script src="/vendor/…">: the UMD build sets its global, then onload fires.
    appendChild(script) {
      page.scripts.push(script.src);
      setTimeout(() => {
        const name = path.basename(script.src, '.js');
        globalThis[name] = require(path.join(root, 'web', script.src));
        script.onload();
      }, 0);
    },
  },
};
globalThis.fetch = fakeFetch;

/** Imports a module of web/assets/. */
export function asset(name) {
  return import(pathToFileURL(path.join(root, 'web/assets', name)).href);
}
