// 便民服务平台 · 设备密钥（ES module）
//
// 本机的 SM2 密钥对：私钥只在设备上，服务端只登记公钥（POST /api/v1/me/devices），之后用
// signWithDevice() 对要确认的内容（如借款合同）签名，服务端以 verify_device_signature 验签。
// 格式与约定见 docs/sdk.md。
//
// 私钥存放：
// - 本文件是 H5 的兜底做法：密钥对以 JSON 存在 localStorage（键 bianmin.device_key.v1:<主体 id>，
//   每个登录主体一把，同一浏览器上的两位市民互不相干）。localStorage 能被同源脚本读取，清除浏览器
//   数据即丢失；丢失或怀疑泄露时，在“我的设备”里注销该设备，下次调用会自动生成并登记新密钥。
// - 原生 App 不用本文件：私钥生成并保存在平台密钥库（iOS Keychain / Secure Enclave 包装、Android
//   Keystore），不可导出，签名在密钥库内完成；登记与签名格式与此相同。
//
// 密码学实现：/vendor/sm-crypto/sm2.js（sm-crypto 0.5.8 的 UMD 构建，见其 PROVENANCE.md），首次使用
// 时以同源经典脚本加载（符合 CSP script-src 'self'），得到全局 sm2。私钥的随机数直接取自
// crypto.getRandomValues；签名随机数 k 由 sm-crypto 内部生成（同样以 getRandomValues 播种）。
//
// 用法：
//   import { ensureDeviceKey, signWithDevice } from '/assets/devicekey.js';
//   const { deviceId } = await ensureDeviceKey();          // 登记（幂等），返回设备 id
//   const signature = await signWithDevice(contractText);  // r||s 十六进制，128 位
//   // 把 deviceId、原文与 signature 一起提交给需要签名的接口
//
// 市民身份的 /api/v1/me/… 请求也用这把密钥签名：由 api.js 经 signing.js 自动完成，页面无需处理。

import { api, currentPrincipal, ApiError } from './api.js';

const SM2_URL = '/vendor/sm-crypto/sm2.js';
const STORAGE_PREFIX = 'bianmin.device_key.v1:';
/** 签名者标识 ID_A（GB/T 35276 默认值），须与服务端 DEVICE_SIGNER_ID 一致。 */
export const SIGNER_ID = '1234567812345678';
/** 服务端拒绝、须换一把新密钥再登记的情形。 */
const REPLACE_KEY_CODES = new Set(['device.key_revoked', 'device.key_taken']);

/** 本页已确认登记过的密钥：{ storageKey, deviceId, publicKey, privateKey } 的 Promise。 */
let current = null;

/** 正在或已经加载的同源密码脚本：url → Promise。 */
const vendorLoads = new Map();

/**
 * 以同源经典脚本加载 /vendor/ 下的密码组件（符合 CSP script-src 'self'），每页只加载一次；
 * ready() 返回脚本提供的全局对象（未就绪时返回假值），加载失败时以 missing() 的错误拒绝，
 * 之后允许重试（如网络恢复后）。签名（sm3.js）与设备密钥（sm2.js）共用。
 * @param {string} url
 * @param {() => any} ready
 * @param {() => Error} missing
 */
export function loadVendorScript(url, ready, missing) {
  const loaded = ready();
  if (loaded) return Promise.resolve(loaded);
  if (!vendorLoads.has(url)) {
    const loading = new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = url;
      script.async = true;
      script.onload = () => {
        const value = ready();
        if (value) resolve(value);
        else reject(missing());
      };
      script.onerror = () => reject(missing());
      document.head.appendChild(script);
    }).catch((e) => {
      vendorLoads.delete(url);
      throw e;
    });
    vendorLoads.set(url, loading);
  }
  return vendorLoads.get(url);
}

/** 加载 sm-crypto 的 SM2（只加载一次）。 */
function loadSm2() {
  return loadVendorScript(
    SM2_URL,
    () => (globalThis.sm2 && typeof globalThis.sm2.doSignature === 'function' ? globalThis.sm2 : null),
    cryptoMissing,
  );
}

function cryptoMissing() {
  return new ApiError(
    { title: '密码组件缺失', detail: '未能加载本地国密组件（/vendor/sm-crypto/），无法使用设备签名。', code: 'client.sm2_missing' },
    0,
  );
}

/** jsbn 的随机源接口（nextBytes），直接由浏览器的密码学安全随机数填充。 */
const webCryptoRng = {
  nextBytes(bytes) {
    const random = crypto.getRandomValues(new Uint8Array(bytes.length));
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = random[i];
  },
};

function newKeyPair(sm2) {
  const { privateKey, publicKey } = sm2.generateKeyPairHex(256, webCryptoRng);
  return { privateKey, publicKey };
}

function readStored(storageKey) {
  try {
    const stored = JSON.parse(localStorage.getItem(storageKey) || 'null');
    if (stored && /^[0-9a-f]{64}$/.test(stored.privateKey) && /^04[0-9a-f]{128}$/.test(stored.publicKey)) {
      return stored;
    }
  } catch {
    // 损坏的记录按没有处理：生成新密钥
  }
  return null;
}

function store(storageKey, pair) {
  localStorage.setItem(storageKey, JSON.stringify(pair));
}

/** 设备名称的默认值（服务端限 32 字符；只用于“我的设备”列表里辨认）。 */
function defaultLabel() {
  const ua = navigator.userAgent || '';
  if (/iPhone|iPad|iPod/.test(ua)) return 'iPhone / iPad 浏览器';
  if (/Android/.test(ua)) return 'Android 浏览器';
  if (/Macintosh|Windows|Linux/.test(ua)) return '电脑浏览器';
  return '浏览器';
}

async function enrol(pair, label) {
  return api('/api/v1/me/devices', { method: 'POST', body: { public_key: pair.publicKey, label } });
}

async function establish(label) {
  const [sm2, me] = await Promise.all([loadSm2(), currentPrincipal()]);
  const storageKey = STORAGE_PREFIX + me.id;
  let pair = readStored(storageKey) || newKeyPair(sm2);
  let device;
  try {
    device = await enrol(pair, label);
  } catch (e) {
    // 已注销（丢失后注销过）或已被他人登记：换一把新密钥再登记一次。
    if (!(e instanceof ApiError && REPLACE_KEY_CODES.has(e.code))) throw e;
    pair = newKeyPair(sm2);
    device = await enrol(pair, label);
  }
  const record = { privateKey: pair.privateKey, publicKey: pair.publicKey, deviceId: device.id };
  store(storageKey, record);
  return { storageKey, ...record };
}

/**
 * 确保本机有已登记的设备密钥：从 localStorage 取出（没有则生成）并向服务端登记（重复登记是幂等的，
 * 同时能发现已被注销的密钥）。同一页面内只登记一次。
 * @param {object} [opts]
 * @param {string} [opts.label]  设备名称（最多 32 字符），默认按浏览器推断
 * @returns {Promise<{deviceId: string, publicKey: string}>}
 * @throws {ApiError} 如 409 device.too_many（已有 5 台设备，须先注销一台）
 */
export async function ensureDeviceKey({ label } = {}) {
  if (!current) {
    current = establish(label || defaultLabel()).catch((e) => {
      current = null;
      throw e;
    });
  }
  const { deviceId, publicKey } = await current;
  return { deviceId, publicKey };
}

/**
 * 用本机设备私钥对 message（按 UTF-8 编码）签 SM2：e = SM3(Z_A || message)，ID_A 为 SIGNER_ID。
 * @param {string} message  要签的原文，须与提交给服务端的完全一致
 * @returns {Promise<string>} 签名 r||s，128 位小写十六进制（非 DER）
 */
export async function signWithDevice(message) {
  if (typeof message !== 'string') throw new TypeError('signWithDevice: message 须为字符串');
  await ensureDeviceKey();
  const [sm2, { privateKey, publicKey }] = await Promise.all([loadSm2(), current]);
  return sm2.doSignature(message, privateKey, { hash: true, userId: SIGNER_ID, publicKey });
}

/**
 * 忘记本机保存的设备密钥（例如在“我的设备”里注销了本机之后）。下次 ensureDeviceKey() 会生成新密钥。
 */
export async function forgetDeviceKey() {
  const me = await currentPrincipal();
  localStorage.removeItem(STORAGE_PREFIX + me.id);
  current = null;
}

/**
 * 让下次 ensureDeviceKey() 重新登记本机密钥（不删除密钥）。服务端说签名的设备不存在或已注销
 * （401 signature.unknown_device）时由 api.js 调用：重新登记会发现已注销的密钥并换一把新的。
 */
export function resetDeviceKey() {
  current = null;
}
