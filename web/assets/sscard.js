// 便民服务平台 · 电子社保卡（ES module）
//
// 社保卡概况（GET /api/v1/me/sscard）与缴费记录（GET …/contributions）经统一接入标准向人社局查询，
// 需“电子社保卡”授权（403 consent.required → 授权引导，同意后重新查询）。
//
// 设备绑定：本机的设备标识首次使用时用 crypto.randomUUID() 生成，保存在 localStorage
// （键 bianmin.device_id）。申领（POST …/activate）把电子社保卡绑定到这个标识，之后只有本机能取
// 二维码；在另一台设备上重新申领后，本机取码得到 409 sscard.other_device。
//
// 动态二维码（GET …/qr?device_id=…）：服务端以 SM2 签名，每 60 秒一个窗口，只签发“当前”窗口的码，
// 窗口结束后还宽限约 10 秒。所以页面在窗口结束的那一刻（+0.6 秒）换新——更早去取只会拿到同一窗口、
// 同样到期的码——旧码在换新前一直有效；页面从后台回到前台时也立即换新。到期而未能换新时（如断网）
// 遮住旧码。二维码文本只在内存里，从不写入任何存储。二维码由 /vendor/qrcode/（qrcode-generator，
// 纠错等级 M）在浏览器里编码，用 DOM API 画成内联 SVG。
//
// 倒计时以服务端给的 window_start / expires_at 为准，用本机单调时钟（performance.now）走秒；若本机
// 时钟明显偏离服务端（不在该窗口内），无法知道窗口已过去多少，就每 10 秒换新一次（见 plan()）。

import { boot } from './shell.js';
import { api } from './api.js';
import { el, replace, problemBanner, toast } from './dom.js';
import { consentGate, dateZh, dateTimeZh } from './consent.js';
import { qrcode } from '/vendor/qrcode/qrcode.mjs';

const DEVICE_KEY = 'bianmin.device_id';
/** 窗口结束后这么久（毫秒）取新码：服务端只按“当前”窗口签发，早于窗口结束去取只会拿到同一窗口的码。 */
const BOUNDARY_DELAY_MS = 600;
/** 到了窗口结束却仍拿到同一窗口的码（本机时钟略快于服务端）：依次隔这么久再取。 */
const RETRY_MS = [1000, 2000, 4000, 8000];
/** 本机时钟与服务端相差太大、无法判断窗口进度时，每隔这么久换新（不超过服务端的 10 秒宽限）。 */
const UNSYNCED_REFRESH_MS = 10000;
/** 服务端在窗口结束后仍接受约 10 秒；过了这么久（毫秒）还没换上新码，就遮住旧码。 */
const HIDE_AFTER_MS = 8000;
/** 本机时钟早于窗口开始这么多以内仍视为同步（毫秒）。 */
const SKEW_TOLERANCE_MS = 5000;
/** 本机时钟晚于窗口结束这么多以内，视为“服务端还没进入下一窗口”，稍后重取（毫秒）。 */
const AHEAD_TOLERANCE_MS = 15000;
/** 二维码目标边长（CSS 像素），实际取模块整数倍。 */
const QR_TARGET_PX = 240;
const QUIET_ZONE = 4;
const SVG_NS = 'http://www.w3.org/2000/svg';
const RING_R = 20;
const RING_C = 2 * Math.PI * RING_R;

// ---------- 设备标识 ----------

function newUuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

let memoryDeviceId = null;

/** 本机设备标识：首次生成后保存在 localStorage；存储不可用（如无痕模式）时只在本页有效。 */
export function deviceId() {
  try {
    let id = localStorage.getItem(DEVICE_KEY);
    if (!id || !/^[A-Za-z0-9._-]{8,128}$/.test(id)) {
      id = newUuid();
      localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  } catch {
    memoryDeviceId = memoryDeviceId || newUuid();
    return memoryDeviceId;
  }
}

// ---------- 金额：元字符串 ↔ 整数分 ----------

function toFen(text) {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(text).trim());
  if (!m) return 0n;
  const fen = BigInt(m[2]) * 100n + BigInt((m[3] || '0').padEnd(2, '0'));
  return m[1] ? -fen : fen;
}

function fenToText(fen) {
  const negative = fen < 0n;
  const abs = negative ? -fen : fen;
  return `${negative ? '-' : ''}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** '12345.60' → '12,345.60'（纯字符串处理）。 */
export function yuan(text) {
  const [int, frac = '00'] = String(text).split('.');
  const negative = int.startsWith('-');
  const digits = negative ? int.slice(1) : int;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${grouped}.${frac.padEnd(2, '0')}`;
}

/** '2026-10' → '2026年10月'。 */
function monthZh(value) {
  const m = /^(\d{4})-(\d{2})$/.exec(String(value || ''));
  return m ? `${m[1]}年${Number(m[2])}月` : String(value || '—');
}

// ---------- 二维码 ----------

/** 把 text 编码成 QR（纠错等级 M），画成内联 SVG：白底静区 4 模块，深色模块按行合并成一条 path。 */
export function qrSvg(text) {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  const size = n + QUIET_ZONE * 2;
  const scale = Math.max(3, Math.round(QR_TARGET_PX / size));
  let d = '';
  for (let r = 0; r < n; r += 1) {
    let c = 0;
    while (c < n) {
      if (!qr.isDark(r, c)) {
        c += 1;
        continue;
      }
      const start = c;
      while (c < n && qr.isDark(r, c)) c += 1;
      d += `M${start + QUIET_ZONE} ${r + QUIET_ZONE}h${c - start}v1h-${c - start}z`;
    }
  }
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('width', String(size * scale));
  svg.setAttribute('height', String(size * scale));
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', '电子社保卡动态二维码');
  svg.setAttribute('class', 'qr__svg');
  const bg = document.createElementNS(SVG_NS, 'rect');
  bg.setAttribute('width', String(size));
  bg.setAttribute('height', String(size));
  bg.setAttribute('fill', '#ffffff');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000000');
  svg.append(bg, path);
  return svg;
}

function ring() {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 48 48');
  svg.setAttribute('class', 'qr-ring__svg');
  svg.setAttribute('aria-hidden', 'true');
  const track = document.createElementNS(SVG_NS, 'circle');
  const bar = document.createElementNS(SVG_NS, 'circle');
  for (const c of [track, bar]) {
    c.setAttribute('cx', '24');
    c.setAttribute('cy', '24');
    c.setAttribute('r', String(RING_R));
    c.setAttribute('fill', 'none');
    c.setAttribute('stroke-width', '4');
  }
  track.setAttribute('class', 'qr-ring__track');
  bar.setAttribute('class', 'qr-ring__bar');
  bar.setAttribute('stroke-dasharray', RING_C.toFixed(2));
  bar.setAttribute('stroke-linecap', 'round');
  bar.setAttribute('transform', 'rotate(-90 24 24)');
  svg.append(track, bar);
  return { svg, bar };
}

// ---------- 文案 ----------

const CARD_BADGE = {
  active: 'badge badge--ok',
  not_issued: 'badge',
  suspended: 'badge badge--warn',
  lost: 'badge badge--danger',
};
const SCHEME = { employee: '职工', flexible: '灵活就业' };

function loadingBox(text) {
  return el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

// ---------- 页面 ----------

function page(host) {
  let view = 0; // 每次重新查询加一，过期的异步结果与计时器据此作废
  let qrTimer = null;
  let tickTimer = null;
  let qrArea = null; // 当前二维码区域（卡片里的 [data-qr]）
  // 正在展示的码：{ text, expiresAt, deadline / hideAt（performance.now 基准，毫秒）, total, retry }
  let current = null;
  let refreshing = 0; // 正在取码的 view 编号，0 表示没有

  function stopQr() {
    clearTimeout(qrTimer);
    clearInterval(tickTimer);
    qrTimer = null;
    tickTimer = null;
    current = null;
    if (qrArea) qrArea.classList.remove('qr-area--expired');
  }

  async function load() {
    view += 1;
    const my = view;
    stopQr();
    host.dataset.state = 'loading';
    replace(host, loadingBox('正在向人社局查询…'));
    const [card, contributions] = await Promise.allSettled([
      api('/api/v1/me/sscard'),
      api('/api/v1/me/sscard/contributions'),
    ]);
    if (my !== view) return;
    const gated = consentGate(
      [card, contributions],
      host,
      {
        purpose: 'SERVICE_SSCARD',
        title: '电子社保卡',
        why: '申领和出示电子社保卡、查询您的社会保障卡状态与社保缴费记录，需要您授权本平台向成都市人力资源和社会保障局获取这些信息。',
      },
      () => load(),
    );
    if (gated) return;
    if (card.status === 'rejected') {
      host.dataset.state = 'error';
      replace(host, problemBanner(card.reason, { onRetry: () => load() }));
      return;
    }
    qrArea = el('div', { class: 'qr-area', dataset: { qr: 'area' } });
    host.dataset.state = 'ready';
    replace(host, renderCard(card.value), renderQrCard(), renderContributions(contributions));
    showQrArea(card.value, my);
  }

  // ----- 社保卡概况 -----

  function renderCard(c) {
    const issued = c.status !== 'not_issued';
    return el(
      'section',
      { class: 'card sscard-card', dataset: { testid: 'sscard-card', status: c.status, bound: String(Boolean(c.bound)) }, 'aria-label': '社会保障卡' },
      el(
        'div',
        { class: 'sscard-face' },
        el(
          'div',
          { class: 'sscard-face__top' },
          el('span', { class: 'sscard-face__emblem', 'aria-hidden': 'true' }, '社'),
          el('span', { class: 'sscard-face__title' }, el('span', {}, '中华人民共和国'), el('strong', {}, '社会保障卡')),
          el('span', { class: `${CARD_BADGE[c.status] || 'badge'} sscard-face__badge`, dataset: { testid: 'sscard-status' } }, c.status_text),
        ),
        el('p', { class: 'sscard-face__number mono', dataset: { testid: 'sscard-number' } }, issued && c.card_number ? c.card_number : '尚未制卡'),
        el(
          'div',
          { class: 'sscard-face__meta' },
          el('span', {}, c.issuing_bank || '—'),
          el('span', {}, c.issued_on ? `发卡 ${dateZh(c.issued_on)}` : ''),
        ),
      ),
      el(
        'p',
        { class: 'small muted sscard-card__note' },
        el('span', { class: 'nowrap' }, c.bound ? `电子社保卡已绑定${c.bound_at ? ` · ${dateTimeZh(c.bound_at)}` : ''}` : c.electronic ? '电子社保卡已领取，尚未绑定设备' : '尚未申领电子社保卡'),
        ' ',
        el('span', { class: 'nowrap' }, `（数据截至 ${dateZh(c.as_of)}）`),
      ),
    );
  }

  function renderQrCard() {
    return el(
      'section',
      { class: 'card qr-card', 'aria-labelledby': 'qr-title' },
      el('div', { class: 'card__header' }, el('h2', { id: 'qr-title', class: 'card__title' }, '电子社保卡二维码')),
      qrArea,
    );
  }

  /** 根据卡的状态决定二维码区域：不可申领 / 申领按钮 / 取码。 */
  function showQrArea(c, my) {
    if (c.status !== 'active') {
      qrArea.dataset.qrState = 'unavailable';
      replace(
        qrArea,
        el(
          'div',
          { class: 'qr-empty' },
          el('p', { class: 'qr-empty__title' }, `社会保障卡状态为“${c.status_text}”`),
          el('p', { class: 'muted small' }, '只有状态正常的社会保障卡才能申领电子社保卡。请携带身份证到社保经办机构或发卡银行网点办理。'),
        ),
      );
      return;
    }
    if (!c.bound) {
      showActivate();
      return;
    }
    fetchQr(my, { first: true });
  }

  function showActivate(notice) {
    stopQr();
    qrArea.dataset.qrState = 'unbound';
    const problem = el('div', { class: 'qr-area__problem' });
    const button = el('button', { class: 'btn btn--primary btn--block', type: 'button', dataset: { testid: 'sscard-activate' } }, '申领电子社保卡');
    button.addEventListener('click', () => activate(button, problem, '申领电子社保卡'));
    replace(
      qrArea,
      el(
        'div',
        { class: 'qr-empty' },
        el('span', { class: 'qr-empty__icon', 'aria-hidden': 'true' }, qrIcon()),
        el('p', { class: 'qr-empty__title' }, '申领后即可扫码就医购药'),
        el('p', { class: 'muted small' }, '电子社保卡将与本手机绑定，在医院、药店出示动态二维码即可核验身份。'),
      ),
      notice || null,
      problem,
      button,
    );
  }

  function showOtherDevice(err) {
    stopQr();
    qrArea.dataset.qrState = 'other-device';
    const problem = el('div', { class: 'qr-area__problem' });
    const button = el('button', { class: 'btn btn--primary btn--block', type: 'button', dataset: { testid: 'sscard-activate' } }, '在本机重新申领');
    button.addEventListener('click', () => activate(button, problem, '在本机重新申领'));
    replace(
      qrArea,
      el(
        'div',
        { class: 'qr-empty', dataset: { testid: 'sscard-other-device' } },
        el('p', { class: 'qr-empty__title' }, '电子社保卡已绑定在另一台设备上'),
        el('p', { class: 'muted small' }, err.detail || ''),
        el('p', { class: 'small qr-empty__warn' }, '在本机重新申领后，原设备上的二维码将立即失效，无法再用于扫码。'),
      ),
      problem,
      button,
    );
  }

  async function activate(button, problem, label) {
    const my = view;
    button.disabled = true;
    button.textContent = '正在申领…';
    replace(problem);
    try {
      // 成功后直接展示二维码，不弹轻提示：提示条会浮在二维码上挡住扫码
      await api('/api/v1/me/sscard/activate', { method: 'POST', body: { device_id: deviceId() } });
      if (my !== view) return;
    } catch (err) {
      if (err.redirecting || my !== view) return;
      if (err.code === 'consent.required') {
        load();
        return;
      }
      button.disabled = false;
      button.textContent = label;
      replace(problem, problemBanner(err));
      return;
    }
    // 卡片上的绑定状态也要更新：重新查询概况较重，这里只改提示文字
    const note = host.querySelector('.sscard-card__note');
    if (note) note.textContent = '电子社保卡已绑定本机';
    const cardEl = host.querySelector('[data-testid="sscard-card"]');
    if (cardEl) cardEl.dataset.bound = 'true';
    fetchQr(my, { first: true });
  }

  // ----- 动态二维码 -----

  /** 取码并展示；first 时先显示加载中。 */
  async function fetchQr(my, { first = false } = {}) {
    if (refreshing === my || my !== view) return;
    refreshing = my;
    clearTimeout(qrTimer);
    qrTimer = null;
    if (first || !current) {
      qrArea.dataset.qrState = 'loading';
      replace(qrArea, loadingBox('正在生成二维码…'));
    } else {
      qrArea.dataset.qrState = 'refreshing';
    }
    let qr;
    try {
      qr = await api(`/api/v1/me/sscard/qr?device_id=${encodeURIComponent(deviceId())}`);
    } catch (err) {
      if (refreshing === my) refreshing = 0;
      if (err.redirecting || my !== view) return;
      if (err.code === 'sscard.other_device') return showOtherDevice(err);
      if (err.code === 'sscard.not_activated') return showActivate();
      showQrError(err, my);
      return;
    }
    if (refreshing === my) refreshing = 0;
    if (my !== view) return;
    showQr(qr, my);
  }

  /**
   * 这张码展示多久、何时换新。以服务端的 window_start / expires_at 为准：
   * - 本机时钟落在该窗口内：倒计时到窗口结束，结束后 0.6 秒换新（旧码仍在服务端宽限内）；
   * - 本机时钟已过窗口结束不久（本机略快，服务端还在旧窗口）：1、2、4、8 秒后重取；
   * - 相差更多：无从判断窗口进度，每 10 秒换新一次。
   */
  function plan(qr, retry) {
    const start = Date.parse(qr.window_start);
    const end = Date.parse(qr.expires_at);
    const span = Number.isFinite(end - start) && end > start ? end - start : 60000;
    const now = Date.now();
    if (Number.isFinite(end) && now >= start - SKEW_TOLERANCE_MS && now < end) {
      const left = Math.min(span, end - now);
      return { left, total: span, refreshIn: left + BOUNDARY_DELAY_MS, hideIn: left + HIDE_AFTER_MS, retry: 0 };
    }
    if (Number.isFinite(end) && now >= end && now < end + AHEAD_TOLERANCE_MS && retry < RETRY_MS.length) {
      const wait = RETRY_MS[retry];
      return { left: wait, total: wait, refreshIn: wait, hideIn: UNSYNCED_REFRESH_MS + HIDE_AFTER_MS, retry: retry + 1 };
    }
    return { left: UNSYNCED_REFRESH_MS, total: UNSYNCED_REFRESH_MS, refreshIn: UNSYNCED_REFRESH_MS, hideIn: UNSYNCED_REFRESH_MS + HIDE_AFTER_MS, retry: 0 };
  }

  function showQr(qr, my) {
    const sameWindow = current && current.expiresAt === qr.expires_at;
    const p = plan(qr, sameWindow ? current.retry : 0);
    const started = performance.now();
    current = { text: qr.text, expiresAt: qr.expires_at, deadline: started + p.left, total: p.total, hideAt: started + p.hideIn, retry: p.retry };
    qrArea.classList.remove('qr-area--expired');

    const frame = el('div', { class: 'qr', dataset: { testid: 'sscard-qr', text: qr.text } }, qrSvg(qr.text));
    const { svg: ringSvg, bar } = ring();
    const seconds = el('span', { class: 'qr-ring__num' });
    const countdownText = el('span', { class: 'qr-countdown__text' });
    const countdown = el(
      'div',
      { class: 'qr-countdown', dataset: { testid: 'sscard-countdown' }, role: 'timer', 'aria-live': 'off' },
      el('span', { class: 'qr-ring' }, ringSvg, seconds),
      countdownText,
    );
    const refresh = el('button', { class: 'btn btn--s', type: 'button', dataset: { testid: 'sscard-refresh' } }, '刷新');
    refresh.addEventListener('click', () => fetchQr(my));
    const revoke = el('button', { class: 'btn btn--danger btn--block', type: 'button', dataset: { testid: 'sscard-revoke' } }, '解绑/挂失本设备');
    revoke.addEventListener('click', () => confirmRevoke(my));

    qrArea.dataset.qrState = 'shown';
    replace(
      qrArea,
      el('div', { class: 'qr-stage' }, frame, el('div', { class: 'qr-stage__veil', 'aria-hidden': 'true' }, '二维码已失效')),
      el('p', { class: 'qr-hint' }, '出示给医院、药店扫码'),
      el('div', { class: 'qr-toolbar' }, countdown, refresh),
      el('p', { class: 'small muted qr-note' }, '二维码每分钟自动更新，请勿截图或转发给他人。'),
      el('div', { class: 'qr-area__problem', dataset: { qr: 'problem' } }),
      revoke,
    );

    const tick = () => {
      if (!current) return;
      const left = Math.max(0, current.deadline - performance.now());
      const secs = Math.ceil(left / 1000);
      seconds.textContent = String(secs);
      countdown.dataset.remaining = String(secs);
      countdownText.textContent = left > 0 ? `${secs} 秒后自动刷新` : '正在刷新…';
      bar.setAttribute('stroke-dashoffset', (RING_C * (1 - left / current.total)).toFixed(2));
      countdown.classList.toggle('qr-countdown--low', secs <= 10 && current.total >= 30000);
      // 到期后仍未换上新码（例如网络中断）：不再展示旧码
      qrArea.classList.toggle('qr-area--expired', performance.now() > current.hideAt);
    };
    clearInterval(tickTimer);
    tick();
    tickTimer = setInterval(tick, 250);
    scheduleRefresh(my, p.refreshIn);
  }

  function scheduleRefresh(my, delay) {
    clearTimeout(qrTimer);
    qrTimer = setTimeout(() => {
      if (my !== view) return;
      if (document.visibilityState === 'hidden') return; // 回到前台时再换新
      fetchQr(my);
    }, delay);
  }

  function showQrError(err, my) {
    const slot = qrArea.querySelector('[data-qr="problem"]');
    if (current && slot) {
      // 已有二维码：保留到它到期，期间显示错误并稍后重试
      qrArea.dataset.qrState = 'shown';
      replace(slot, problemBanner(err, { variant: 'warn', onRetry: () => fetchQr(my) }));
      scheduleRefresh(my, 5000);
      return;
    }
    stopQr();
    qrArea.dataset.qrState = 'error';
    replace(qrArea, problemBanner(err, { onRetry: () => fetchQr(my, { first: true }) }));
  }

  // ----- 解绑 / 挂失 -----

  function confirmRevoke(my) {
    const problem = el('div', { class: 'sheet__problem' });
    const confirm = el('button', { class: 'btn btn--primary btn--block', type: 'button', dataset: { testid: 'sscard-revoke-confirm' } }, '确认解绑');
    const cancel = el('button', { class: 'btn btn--block', type: 'button', dataset: { testid: 'sscard-revoke-cancel' } }, '取消');
    const sheet = el(
      'dialog',
      { class: 'sheet', dataset: { testid: 'sscard-revoke-sheet' }, 'aria-labelledby': 'revoke-title' },
      el('div', { class: 'sheet__grip', 'aria-hidden': 'true' }),
      el('h2', { id: 'revoke-title', class: 'sheet__title' }, '解绑/挂失本设备'),
      el(
        'ul',
        { class: 'revoke-facts' },
        el('li', {}, '解绑后，本设备已出示的二维码立即失效，医院、药店扫码将提示“已挂失/解绑”。'),
        el('li', {}, '手机丢失或更换时请尽快解绑；社会保障卡（实体卡）本身不受影响。'),
        el('li', {}, '之后可在任一设备上重新申领电子社保卡。'),
      ),
      problem,
      el('div', { class: 'stack stack--s' }, confirm, cancel),
    );
    sheet.addEventListener('close', () => sheet.remove());
    sheet.addEventListener('click', (e) => {
      if (e.target === sheet) sheet.close();
    });
    cancel.addEventListener('click', () => sheet.close());
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      cancel.disabled = true;
      confirm.textContent = '正在解绑…';
      replace(problem);
      try {
        await api('/api/v1/me/sscard/revoke', { method: 'POST', body: {} });
      } catch (err) {
        if (err.redirecting) return;
        confirm.disabled = false;
        cancel.disabled = false;
        confirm.textContent = '确认解绑';
        replace(problem, problemBanner(err));
        return;
      }
      sheet.close();
      if (my !== view) return;
      toast('已解绑本设备，原二维码已失效');
      const note = host.querySelector('.sscard-card__note');
      if (note) note.textContent = '电子社保卡已解绑，可重新申领';
      const cardEl = host.querySelector('[data-testid="sscard-card"]');
      if (cardEl) cardEl.dataset.bound = 'false';
      showActivate();
    });
    document.body.append(sheet);
    sheet.showModal();
    cancel.focus();
  }

  // ----- 缴费记录 -----

  function renderContributions(result) {
    const section = (state, ...children) =>
      el(
        'section',
        { class: 'card si-card', dataset: { testid: 'contributions', state }, 'aria-labelledby': 'si-title' },
        el('div', { class: 'card__header' }, el('h2', { id: 'si-title', class: 'card__title' }, '社保缴费')),
        ...children,
      );
    if (result.status === 'rejected') {
      const err = result.reason;
      if (err.status === 404) return section('none', el('p', { class: 'muted' }, err.detail));
      return section('error', problemBanner(err, { onRetry: () => load() }));
    }
    const { totals, records, as_of: asOf } = result.value;
    const months = [...records].sort((a, b) => String(b.month).localeCompare(String(a.month))).slice(0, 12);
    let span = '';
    if (records.length) {
      const first = records.reduce((m, r) => (r.month < m ? r.month : m), records[0].month);
      const last = records.reduce((m, r) => (r.month > m ? r.month : m), records[0].month);
      const sameYear = String(first).slice(0, 4) === String(last).slice(0, 4);
      span = first === last ? monthZh(first) : `${monthZh(first)}至${sameYear ? monthZh(last).slice(5) : monthZh(last)}`;
    }
    return section(
      'ready',
      el('p', { class: 'small muted si-card__sub' }, span ? el('span', { class: 'nowrap' }, `缴费月份 ${span}`) : null, el('span', { class: 'nowrap' }, `数据截至 ${dateZh(asOf)}`)),
      el(
        'table',
        { class: 'si-totals', dataset: { testid: 'contribution-totals' } },
        el('caption', { class: 'visually-hidden' }, '各险种缴费合计'),
        el(
          'thead',
          {},
          el('tr', {}, el('th', { scope: 'col' }, '险种'), el('th', { scope: 'col', class: 'num' }, '月数'), el('th', { scope: 'col', class: 'num' }, '单位缴纳'), el('th', { scope: 'col', class: 'num' }, '个人缴纳')),
        ),
        el(
          'tbody',
          {},
          totals.map((t) =>
            el(
              'tr',
              { dataset: { insurance: t.insurance } },
              el('th', { scope: 'row' }, t.name),
              el('td', { class: 'num' }, `${t.months}`),
              el('td', { class: 'num' }, yuan(t.employer)),
              el('td', { class: 'num' }, toFen(t.employee) > 0n ? yuan(t.employee) : '—'),
            ),
          ),
        ),
      ),
      el('p', { class: 'small muted si-card__unit' }, '金额单位：元。工伤保险、生育保险由单位缴纳，个人不缴费。'),
      el('h3', { class: 'si-card__subtitle' }, `近 ${months.length} 个月缴费明细`),
      months.length
        ? el(
            'ul',
            { class: 'si-months', dataset: { testid: 'contribution-months' } },
            months.map((r) => {
              const employee = toFen(r.pension_employee) + toFen(r.medical_employee) + toFen(r.unemployment_employee);
              const employer = toFen(r.total) - employee;
              return el(
                'li',
                { class: 'si-month', dataset: { month: r.month } },
                el(
                  'span',
                  { class: 'si-month__main' },
                  el('span', { class: 'si-month__name' }, monthZh(r.month), el('span', { class: 'badge si-month__scheme' }, SCHEME[r.scheme] || r.scheme)),
                  el('span', { class: 'si-month__meta' }, `缴费基数 ${yuan(r.base)}`),
                ),
                el(
                  'span',
                  { class: 'si-month__side' },
                  el('span', { class: 'si-month__total' }, `¥${yuan(r.total)}`),
                  el('span', { class: 'si-month__meta' }, `单位 ${yuan(fenToText(employer))} · 个人 ${yuan(fenToText(employee))}`),
                ),
              );
            }),
          )
        : el('p', { class: 'muted small' }, '暂无缴费记录。'),
    );
  }

  // 回到前台：立即换新（后台时计时器可能被浏览器延迟，旧码也可能已过期）
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible' || !qrArea) return;
    const state = qrArea.dataset.qrState;
    if (state === 'shown' || state === 'refreshing') fetchQr(view);
  });
  // 离开页面时不留计时器；从往返缓存恢复时旧码已过时，重新取
  window.addEventListener('pagehide', () => stopQr());
  window.addEventListener('pageshow', (e) => {
    if (e.persisted && qrArea && qrArea.dataset.qrState === 'shown') fetchQr(view, { first: true });
  });

  return { load };
}

function qrIcon() {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '1.8');
  svg.setAttribute('stroke-linejoin', 'round');
  const p = document.createElementNS(SVG_NS, 'path');
  p.setAttribute('d', 'M4 4h6v6H4zM14 4h6v6h-6zM4 14h6v6H4zM14 14h2v2h-2zM18 14h2v2M14 18h2v2M18 18h2v2h-2');
  svg.append(p);
  return svg;
}

boot(async (_me, root) => {
  await page(root.querySelector('[data-sscard="body"]')).load();
});
