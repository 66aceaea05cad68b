// Cross-language vectors of signed requests, made with the H5 code itself.
//
//   node crates/sdk/tests/data/gen.js > crates/sdk/tests/data/request_vectors.json
//
// Run from the repository root. The canonical strings come from web/assets/signing.js, the
// digests from the vendored web/vendor/sm-crypto/sm3.js and the signatures from
// web/vendor/sm-crypto/sm2.js, exactly as in a browser; crates/sdk/tests/js_vectors.rs checks
// that Rust builds the same canonical strings, verifies every signature and finds the same
// proof-of-work counters. The key pair and signatures differ on every run.
const path = require('path');
const { pathToFileURL } = require('url');

const root = process.cwd();
const sm2 = require(path.resolve(root, 'web/vendor/sm-crypto/sm2.js'));
globalThis.sm3 = require(path.resolve(root, 'web/vendor/sm-crypto/sm3.js'));

const ORIGIN = 'https://bianmin.example';
const USER_ID = '1234567812345678';

(async () => {
  const signing = await import(pathToFileURL(path.resolve(root, 'web/assets/signing.js')));
  const keys = sm2.generateKeyPairHex();
  const requests = [
    // Unsorted query with a Chinese plate: URL percent-encodes it as the browser sends it.
    { method: 'GET', url: '/api/v1/me/traffic/violations?status=unpaid&plate=川A12345&page=1' },
    { method: 'GET', url: '/api/v1/me/inbox?&b=2&&a=1&a=0&' },
    { method: 'GET', url: '/api/v1/me/hpf/account' },
    {
      method: 'POST',
      url: '/api/v1/me/traffic/payments',
      body: JSON.stringify({ plate: '川A12345', violation_ids: ['0197a0e4-0000-7000-8000-000000000001'], remark: '便民缴费 🚗' }),
    },
    { method: 'POST', url: '/api/v1/me/sscard/activate' },
  ];
  const vectors = [];
  let timestamp = 1750000000;
  for (const request of requests) {
    const url = new URL(request.url, ORIGIN);
    const query = url.search ? url.search.slice(1) : null;
    const nonce = Array.from({ length: 16 }, (_, i) => ((vectors.length * 16 + i) * 37) & 0xff)
      .map((b) => b.toString(16).padStart(2, '0'))
      .join('');
    const body = request.body === undefined ? null : request.body;
    const canonical = await signing.canonicalRequest(request.method, url.pathname, query, timestamp, nonce, body);
    const signature = sm2.doSignature(canonical, keys.privateKey, { hash: true, userId: USER_ID });
    if (!sm2.doVerifySignature(canonical, signature, keys.publicKey, { hash: true, userId: USER_ID })) {
      throw new Error(`sm2.js does not verify its own signature of ${request.url}`);
    }
    vectors.push({
      method: request.method, request_target: url.pathname + url.search, path: url.pathname, query,
      timestamp, nonce, body, body_sm3: await signing.bodyDigestHex(body), canonical, signature,
    });
    timestamp += 1;
  }
  // Proof of work: the worked example of crates/guard/src/challenge/mod.rs (difficulty given
  // apart, since its byte 33 is 0), then tokens whose byte 33 carries the difficulty.
  const example = '01' + '00'.repeat(73);
  const challenges = [{ token: example, difficulty: 8, counter: await signing.solveChallenge(example, { difficulty: 8 }) }];
  if (challenges[0].counter !== 143) throw new Error(`worked example gives ${challenges[0].counter}, not 143`);
  for (const difficulty of [1, 12, 16]) {
    const token = '01' + 'a5'.repeat(32) + difficulty.toString(16).padStart(2, '0') + '00'.repeat(40);
    challenges.push({ token, difficulty, counter: await signing.solveChallenge(token) });
  }
  console.log(JSON.stringify({
    library: 'sm-crypto 0.5.8 (web/vendor/sm-crypto/sm2.js, sm3.js) with web/assets/signing.js',
    node: process.version, origin: ORIGIN, user_id: USER_ID,
    private_key: keys.privateKey, public_key: keys.publicKey, requests: vectors, challenges,
  }, null, 2));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
