// 便民服务平台 · 信贷页面共用（ES module）：闪电贷（loan.js）与供应链融资（supply.js）。
//
// 金额一律是十进制字符串或以“分”为单位的 BigInt，不用浮点数；利率也按十进制字符串处理。
// 这里还有两处页面共用的小组件：键值行、字段错误、加载提示、利率块（年化利率醒目、日利率次要，
// 依中国人民银行公告〔2021〕第3号）以及“借 1 万元用 1 天”的利息示例。

import { el } from './dom.js';

/** 十进制字符串 → 乘以 10^places 后的整数（四舍五入）；格式不对时返回 null。 */
export function scaled(text, places) {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(text ?? '').trim());
  if (!m) return null;
  const frac = m[3] || '';
  let value = BigInt(m[2] + frac.slice(0, places).padEnd(places, '0'));
  if (frac.length > places && Number(frac[places]) >= 5) value += 1n;
  return m[1] ? -value : value;
}

/** '200.00' → 20000n；不是金额时返回 null。 */
export function toFen(text) {
  return scaled(text, 2);
}

/** 20000n → '200.00'。 */
export function fenToText(fen) {
  const negative = fen < 0n;
  const abs = negative ? -fen : fen;
  return `${negative ? '-' : ''}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** '12345.6' → '12,345.60'（纯字符串处理）。 */
export function yuan(text) {
  const [int, frac = '00'] = String(text ?? '0').split('.');
  const negative = int.startsWith('-');
  const digits = negative ? int.slice(1) : int;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${grouped}.${frac.padEnd(2, '0')}`;
}

/** 利率 '0.0730' → '7.30%'。 */
export function percentText(rate) {
  const bp = scaled(rate, 4);
  if (bp === null) return String(rate);
  return `${bp / 100n}.${String(bp % 100n).padStart(2, '0')}%`;
}

/** 用户输入的金额：去掉逗号、空格和“元”，最多两位小数；不合法时返回 null。 */
export function parseInputYuan(text) {
  const clean = String(text || '').replace(/[,，\s元¥]/g, '');
  if (!/^\d+(\.\d{1,2})?$/.test(clean)) return null;
  return toFen(clean);
}

const dateTimeFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

/** 东八区日期时间：2026/11/30 09:36。 */
export function dateTime(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '—' : dateTimeFmt.format(d);
}

/** 幂等键：优先 crypto.randomUUID()（安全上下文），否则用 getRandomValues 拼一个同样格式的。 */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function loadingBox(text) {
  return el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function kvRow(label, value, testid, extra = {}) {
  return el(
    'div',
    { class: 'profile-list__row' },
    el('dt', {}, label),
    el('dd', { class: 'profile-list__value', dataset: testid ? { testid, ...extra } : extra }, value),
  );
}

/** 字段下方的错误说明（与输入框用 aria-describedby 关联）。 */
export function fieldError(id) {
  return el('p', { id, class: 'field__error', role: 'alert', hidden: true });
}

export function setFieldError(input, node, message) {
  node.textContent = message || '';
  node.hidden = !message;
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

/**
 * 年化利率（醒目）与日利率（次要）：中国人民银行公告〔2021〕第3号要求以年化利率明示。
 * note 是日利率下的计息说明，默认按额度的计息基础（闪电贷：ACT/360）。
 */
export function rateBlock(r, prefix, note = `按 ${r.day_count || 'ACT/360'} 计息`) {
  const aprData = r.apr ? { testid: `${prefix}-apr`, apr: r.apr } : { testid: `${prefix}-apr` };
  return el(
    'div',
    { class: 'loan-rate' },
    el(
      'div',
      { class: 'loan-rate__main' },
      el('span', { class: 'loan-rate__label' }, '年化利率'),
      el('strong', { class: 'loan-rate__apr', dataset: aprData }, r.apr_text || percentText(r.apr)),
    ),
    el(
      'div',
      { class: 'loan-rate__side' },
      el('span', { class: 'loan-rate__daily', dataset: { testid: `${prefix}-daily-rate` } }, `日利率 ${r.daily_rate_text || r.daily_rate}`),
      el('span', { class: 'loan-rate__note' }, note),
    ),
  );
}

/** 借 1 万元用 1 天的利息（分）= 日利率 × 10000 元 × 100 = 日利率 × 10^6。 */
export function interestExample(dailyRate) {
  const fen = scaled(dailyRate, 6);
  return fen === null ? null : `借 1 万元用 1 天，利息约 ${fenToText(fen)} 元`;
}
