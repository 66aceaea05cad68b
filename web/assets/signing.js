// 便民服务平台 · 请求签名与工作量证明（ES module）
//
// 市民身份调用 /api/v1/me/…（登记设备的 /api/v1/me/devices 除外）时，每个请求都用本机设备密钥
// （devicekey.js）做 SM2 签名，带上 x-bm-device / x-bm-timestamp / x-bm-nonce / x-bm-signature；
// 服务端怀疑是自动化程序时回 428 并给出工作量证明题目，solveChallenge() 求解。格式见 docs/sdk.md
// “Signed requests”一节，与 Rust 的 bianmin_sdk::canonical_request 逐字节一致。
//
// 本模块由 api.js 按需动态加载（import('./signing.js')）：不调 /api/v1/me/… 的页面既不加载本模块，
// 也不加载 /vendor/sm-crypto/ 下的密码脚本。请求体的 SM3 来自 /vendor/sm-crypto/sm3.js（sm-crypto
// 0.5.8 的 UMD 构建，见其 PROVENANCE.md），签名时以同源经典脚本加载（CSP script-src 'self'），得到全局
// sm3；工作量证明用下面专用的 SM3 实现，不需要加载任何脚本。
//
// 待签原文（UTF-8，行间以 \n 连接，末尾无换行）：
//   bianmin.request.v1
//   <大写方法>
//   <请求行里的路径，保持发送时的百分号编码，不含查询串>
//   <规范化查询串：原始查询串按 & 切分、去掉空段、按字节排序后以 & 连接；无查询串为空行>
//   <时间戳，与 x-bm-timestamp 相同>
//   <小写 nonce>
//   <请求体字节的 SM3，64 位小写十六进制；无请求体即空输入的 SM3>

import { ensureDeviceKey, loadVendorScript, signWithDevice } from './devicekey.js';
import { ApiError } from './api.js';

const SM3_URL = '/vendor/sm-crypto/sm3.js';
/** 待签原文的第一行：请求签名不能被当作设备签过的任何其他内容。 */
export const SIGNATURE_CONTEXT = 'bianmin.request.v1';
/** 求解工作量证明时，连续计算超过这么多毫秒就让出一次事件循环，页面保持可响应。 */
const SOLVE_SLICE_MS = 16;
/** 题目（token）的字节长度与其中难度字节的位置，见 crates/guard/src/challenge/mod.rs。 */
const TOKEN_LEN = 74;
const DIFFICULTY_AT = 33;

/** 服务端时钟减本机时钟（毫秒）；收到 signature.stale 后按服务端 Date 头校正。 */
let clockOffsetMs = 0;

/** 加载 sm-crypto 的 SM3（只加载一次）。 */
function loadSm3() {
  return loadVendorScript(SM3_URL, () => (typeof globalThis.sm3 === 'function' ? globalThis.sm3 : null), sm3Missing);
}

function sm3Missing() {
  return new ApiError(
    { title: '密码组件缺失', detail: '未能加载本地国密组件（/vendor/sm-crypto/sm3.js），请求未发送。', code: 'client.sm3_missing' },
    0,
  );
}

const utf8 = new TextEncoder();

/**
 * 规范化查询串：按 & 切分、去掉空段、按字节排序、以 & 连接。不解码也不重新编码。
 * @param {string|null|undefined} rawQuery  发送时的原始查询串，不带开头的 '?'
 */
export function canonicalQuery(rawQuery) {
  if (!rawQuery) return '';
  // 浏览器发出的查询串都是 ASCII（非 ASCII 已被百分号编码），此时 UTF-16 码元顺序即字节顺序。
  return rawQuery
    .split('&')
    .filter((piece) => piece !== '')
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .join('&');
}

/** 请求体字节的 SM3（64 位小写十六进制）；bodyText 为 undefined / null / '' 时即空输入。 */
export async function bodyDigestHex(bodyText) {
  const sm3 = await loadSm3();
  return sm3(utf8.encode(bodyText || ''));
}

/**
 * 待签原文。path 与 query 须与请求行完全一致（百分号编码保持原样），bodyText 为实际发送的请求体文本。
 * @returns {Promise<string>}
 */
export async function canonicalRequest(method, path, query, timestamp, nonce, bodyText) {
  return [
    SIGNATURE_CONTEXT,
    String(method).toUpperCase(),
    path,
    canonicalQuery(query),
    String(timestamp),
    String(nonce).toLowerCase(),
    await bodyDigestHex(bodyText),
  ].join('\n');
}

function randomNonce() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * 一个请求的签名头。url 按浏览器发送时的方式解析（new URL(url, location.origin)），签的是其
 * pathname 与 search（去掉 '?'），即浏览器百分号编码后的形式。bodyText 须是将要发送的那个字符串。
 * 需要时会加载密码组件并登记本机设备密钥（ensureDeviceKey）。
 * @returns {Promise<Record<string, string>>}
 */
export async function signedHeaders(method, url, bodyText) {
  const target = new URL(url, location.origin);
  const { deviceId } = await ensureDeviceKey();
  const timestamp = Math.floor((Date.now() + clockOffsetMs) / 1000);
  const nonce = randomNonce();
  const message = await canonicalRequest(method, target.pathname, target.search.slice(1), timestamp, nonce, bodyText);
  const signature = await signWithDevice(message);
  return {
    'x-bm-device': deviceId,
    'x-bm-timestamp': String(timestamp),
    'x-bm-nonce': nonce,
    'x-bm-signature': signature,
  };
}

/**
 * 按服务端应答的 Date 头校正签名用的时间（本机时钟不准时服务端回 401 signature.stale）。
 * @param {string|null} dateHeader
 * @returns {boolean} 是否得到了可用的服务端时间
 */
export function adjustClock(dateHeader) {
  const serverMs = Date.parse(dateHeader || '');
  if (Number.isNaN(serverMs)) return false;
  clockOffsetMs = serverMs - Date.now();
  return true;
}

// ---------- 工作量证明 ----------
//
// 输入是 82 字节（74 字节 token + 8 字节 counter），SM3 填充后正好两个分组；第一个分组只含 token，
// 对同一题目不变。这里只为它写了一个专用的 SM3 压缩函数：第一个分组压缩一次，之后每个 counter 只压缩
// 第二个分组，比每次调用通用的 sm3() 快一个数量级以上（默认 16 比特约 65536 次哈希，手机上也只需
// 零点几秒）。结果与 /vendor/sm-crypto/sm3.js 逐字节一致，见 crates/sdk/tests/js/ 的测试。

const SM3_IV = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];
/** 第 j 轮的常量 T_j 循环左移 j 位（GB/T 32905-2016 5.3.3）。 */
const SM3_T = Int32Array.from({ length: 64 }, (_, j) => rotl(j < 16 ? 0x79cc4519 : 0x7a879d8a, j % 32));
const sm3W = new Int32Array(68);

function rotl(x, n) {
  return (x << n) | (x >>> (32 - n));
}

/** SM3 压缩函数：用 16 个大端字组成的分组 block 更新 8 个字的状态 v（原地）。 */
function sm3Compress(v, block) {
  const w = sm3W;
  for (let j = 0; j < 16; j += 1) w[j] = block[j];
  for (let j = 16; j < 68; j += 1) {
    const x = w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15);
    w[j] = x ^ rotl(x, 15) ^ rotl(x, 23) ^ rotl(w[j - 13], 7) ^ w[j - 6];
  }
  let a = v[0];
  let b = v[1];
  let c = v[2];
  let d = v[3];
  let e = v[4];
  let f = v[5];
  let g = v[6];
  let h = v[7];
  for (let j = 0; j < 64; j += 1) {
    const a12 = rotl(a, 12);
    const ss1 = rotl((a12 + e + SM3_T[j]) | 0, 7);
    const ss2 = ss1 ^ a12;
    const ff = j < 16 ? a ^ b ^ c : (a & b) | (a & c) | (b & c);
    const gg = j < 16 ? e ^ f ^ g : (e & f) | (~e & g);
    const tt1 = (ff + d + ss2 + (w[j] ^ w[j + 4])) | 0;
    const tt2 = (gg + h + ss1 + w[j]) | 0;
    d = c;
    c = rotl(b, 9);
    b = a;
    a = tt1;
    h = g;
    g = rotl(f, 19);
    f = e;
    e = tt2 ^ rotl(tt2, 9) ^ rotl(tt2, 17);
  }
  v[0] ^= a;
  v[1] ^= b;
  v[2] ^= c;
  v[3] ^= d;
  v[4] ^= e;
  v[5] ^= f;
  v[6] ^= g;
  v[7] ^= h;
}

/** 大端读 4 字节。 */
function wordAt(bytes, i) {
  return (bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3];
}

/**
 * 一个题目的哈希器：digest(counter) 返回 SM3(token || counter 的 8 字节大端) 的 8 个字。
 * @param {Uint8Array} token  74 字节
 */
export function powHasher(token) {
  const first = Int32Array.from(SM3_IV);
  const block = new Int32Array(16);
  for (let j = 0; j < 16; j += 1) block[j] = wordAt(token, 4 * j);
  sm3Compress(first, block);
  const second = new Int32Array(16);
  const state = new Int32Array(8);
  second[0] = wordAt(token, 64);
  second[1] = wordAt(token, 68);
  second[15] = (TOKEN_LEN + 8) * 8; // 消息长度 656 比特；其余填充字节为 0
  return (counter) => {
    const high = Math.floor(counter / 0x100000000);
    const low = counter >>> 0;
    second[2] = (token[72] << 24) | (token[73] << 16) | (high >>> 16);
    second[3] = (high << 16) | (low >>> 16);
    second[4] = (low << 16) | 0x8000; // counter 的最后两字节，然后是填充的 0x80
    state.set(first);
    sm3Compress(state, second);
    return state;
  };
}

function leadingZeroBits(words) {
  let bits = 0;
  for (const word of words) {
    const zeros = Math.clz32(word);
    bits += zeros;
    if (zeros < 32) break;
  }
  return bits;
}

function badChallenge() {
  return new ApiError(
    { title: '验证失败', detail: '服务器给出的安全验证题目无法识别，请刷新页面后重试。', code: 'client.bad_challenge' },
    0,
  );
}

/**
 * 求解工作量证明：找最小的 counter，使 SM3(token 字节 || counter 的 8 字节大端) 至少有 difficulty
 * 个前导 0 比特。难度默认取自 token 的第 33 字节。每计算约 16 毫秒让出一次事件循环。
 * @param {string} token  服务端 428 应答里的 challenge.token（148 位十六进制）
 * @param {object} [opts]
 * @param {number} [opts.difficulty]  覆盖 token 里的难度（仅供测试）
 * @param {AbortSignal} [opts.signal]
 * @returns {Promise<number>} counter；应答头为 x-bm-challenge: <token>:<counter>
 */
export async function solveChallenge(token, { difficulty, signal } = {}) {
  if (typeof token !== 'string' || !new RegExp(`^[0-9a-fA-F]{${TOKEN_LEN * 2}}$`).test(token)) {
    throw badChallenge();
  }
  const bytes = new Uint8Array(TOKEN_LEN);
  for (let i = 0; i < TOKEN_LEN; i += 1) bytes[i] = parseInt(token.slice(2 * i, 2 * i + 2), 16);
  const bits = difficulty === undefined ? bytes[DIFFICULTY_AT] : difficulty;
  if (!(bits >= 1 && bits <= 32)) throw badChallenge();
  const digest = powHasher(bytes);
  let sliceStart = Date.now();
  for (let counter = 0; counter <= Number.MAX_SAFE_INTEGER; counter += 1) {
    if (leadingZeroBits(digest(counter)) >= bits) return counter;
    if ((counter & 0xff) === 0xff && Date.now() - sliceStart >= SOLVE_SLICE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (signal) signal.throwIfAborted();
      sliceStart = Date.now();
    }
  }
  throw new ApiError({ title: '验证失败', detail: '安全验证未能完成，请稍后再试。', code: 'client.challenge_unsolved' }, 0);
}
