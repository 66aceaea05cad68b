// 便民服务平台 · 演示登录页（ES module）
//
// 列出开发环境身份提供方的预置身份（GET /api/v1/auth/personas），按角色分组；
// 点击后 POST /api/v1/auth/dev-login，服务端写入 HttpOnly 会话 Cookie 并返回 home，前端跳转过去。
// 本页不需要登录，所以所有请求都关闭了 401 自动跳转。
//
// SMS one-time-password sign-in: POST /api/v1/auth/otp/send, then /api/v1/auth/otp/verify, which
// sets the same session cookie. A 428 challenge is answered with signing.js's proof of work when
// that module is there (docs/security.md, "Login protection").

import { api, safeHomePath, ApiError } from './api.js';
import { el, replace, problemBanner, avatarChar } from './dom.js';

// 分组显示顺序；服务端若新增角色，排在最后，不会丢。
const ROLE_ORDER = ['citizen', 'enterprise', 'government_officer', 'bank_operator', 'auditor', 'admin'];

const main = document.querySelector('main');
const listHost = document.querySelector('[data-login="personas"]');
const problemHost = document.querySelector('[data-login="problem"]');

function showProblem(err, opts) {
  replace(problemHost, problemBanner(err, opts));
  problemHost.scrollIntoView({ block: 'nearest' });
}

function groupByRole(personas) {
  const groups = new Map();
  for (const p of personas) {
    if (!groups.has(p.role)) groups.set(p.role, { role: p.role, label: p.role_label || p.role, items: [] });
    groups.get(p.role).items.push(p);
  }
  const rank = (role) => {
    const i = ROLE_ORDER.indexOf(role);
    return i === -1 ? ROLE_ORDER.length : i;
  };
  return [...groups.values()].sort((a, b) => rank(a.role) - rank(b.role));
}

function personaButton(p) {
  const dept = p.department && p.department.name;
  return el(
    'button',
    { type: 'button', class: 'persona', dataset: { persona: p.id, role: p.role } },
    el(
      'span',
      { class: 'persona__head' },
      el('span', { class: 'persona__avatar', 'aria-hidden': 'true' }, avatarChar(p.display_name)),
      el(
        'span',
        { class: 'persona__who' },
        el('span', { class: 'persona__name' }, p.display_name || p.id),
        el('span', { class: 'persona__id' }, p.id),
      ),
    ),
    dept ? el('span', { class: 'persona__dept' }, dept) : null,
    p.description ? el('span', { class: 'persona__desc' }, p.description) : null,
  );
}

function renderPersonas(personas) {
  if (!Array.isArray(personas) || personas.length === 0) {
    replace(listHost, el('div', { class: 'card empty' }, '暂无可用的演示身份，请检查服务端的开发身份配置。'));
    return;
  }
  replace(
    listHost,
    el('div', { class: 'persona-groups' }, groupByRole(personas).map((g) =>
      el(
        'section',
        { class: 'persona-group', dataset: { role: g.role } },
        el('h3', { class: 'persona-group__title' }, g.label, el('span', { class: 'badge' }, `${g.items.length} 个身份`)),
        el('div', { class: 'persona-list' }, g.items.map(personaButton)),
      ),
    )),
  );
}

async function loadPersonas() {
  replace(problemHost);
  listHost.setAttribute('aria-busy', 'true');
  try {
    renderPersonas(await api('/api/v1/auth/personas', { redirectOn401: false }));
  } catch (err) {
    replace(listHost);
    showProblem(err, { onRetry: loadPersonas });
  } finally {
    listHost.removeAttribute('aria-busy');
    main.dataset.testid = 'page-ready';
  }
}

async function login(button) {
  const buttons = listHost.querySelectorAll('button[data-persona]');
  replace(problemHost);
  buttons.forEach((b) => { b.disabled = true; });
  button.setAttribute('aria-busy', 'true');
  try {
    const res = await api('/api/v1/auth/dev-login', {
      method: 'POST',
      body: { persona: button.dataset.persona },
      redirectOn401: false,
    });
    window.location.assign(safeHomePath(res && res.home));
  } catch (err) {
    buttons.forEach((b) => { b.disabled = false; });
    button.removeAttribute('aria-busy');
    showProblem(err);
  }
}

// 事件委托：列表可能重新渲染（重试），不用逐个绑定
listHost.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-persona]');
  if (button && !button.disabled) login(button);
});

// --- SMS one-time-password sign-in ---

const otpForm = document.querySelector('[data-login="otp-form"]');
const sendButton = otpForm.querySelector('[data-login="otp-send"]');
const submitButton = otpForm.querySelector('button[type="submit"]');
const otpHint = otpForm.querySelector('[data-login="otp-hint"]');
const otpProblemHost = otpForm.querySelector('[data-login="otp-problem"]');
let countdown = null;

function showOtpProblem(err) {
  replace(otpProblemHost, problemBanner(err));
}

/** Keeps the send button disabled for `seconds`, counting down on its label. */
function startCountdown(seconds) {
  clearInterval(countdown);
  let left = Math.max(1, Math.round(Number(seconds) || 60));
  const tick = () => {
    if (left <= 0) {
      clearInterval(countdown);
      countdown = null;
      sendButton.disabled = false;
      sendButton.textContent = '重新获取';
      return;
    }
    sendButton.disabled = true;
    sendButton.textContent = `${left} 秒后重新获取`;
    left -= 1;
  };
  tick();
  countdown = setInterval(tick, 1000);
}

async function sendCode() {
  replace(otpProblemHost);
  replace(otpHint);
  sendButton.disabled = true;
  try {
    const sent = await api('/api/v1/auth/otp/send', {
      method: 'POST',
      body: { phone: otpForm.elements.phone.value },
      redirectOn401: false,
    });
    startCountdown(sent.resend_after);
    const minutes = Math.round((Number(sent.expires_in) || 300) / 60);
    replace(otpHint, `验证码已发送至 ${sent.masked_phone}，${minutes} 分钟内有效。`);
    // Only a development server sends the code back (auth.dev_login); production never does.
    if (sent.dev_code) {
      otpHint.append(' ', el('strong', { dataset: { testid: 'otp-dev-code' } }, `开发环境验证码：${sent.dev_code}`));
    }
    otpForm.elements.code.focus();
  } catch (err) {
    if (!countdown) sendButton.disabled = false;
    showOtpProblem(err);
  }
}

/** `<token>:<counter>` for a challenge, solved by signing.js; refused when it is not there. */
async function answerChallenge(token) {
  replace(otpHint, '安全校验中…');
  let solveChallenge = null;
  try {
    ({ solveChallenge } = await import('./signing.js'));
  } catch {
    solveChallenge = null;
  }
  if (typeof solveChallenge !== 'function') {
    replace(otpHint);
    throw new ApiError(
      { title: '安全校验', detail: '当前页面无法完成安全校验，请稍后再试。', code: 'client.challenge_unavailable' },
      428,
    );
  }
  const counter = await solveChallenge(token);
  replace(otpHint);
  return `${token}:${counter}`;
}

async function verifyCode(event) {
  event.preventDefault();
  replace(otpProblemHost);
  submitButton.disabled = true;
  submitButton.setAttribute('aria-busy', 'true');
  const body = { phone: otpForm.elements.phone.value, code: otpForm.elements.code.value.trim() };
  const verify = () => api('/api/v1/auth/otp/verify', { method: 'POST', body, redirectOn401: false });
  try {
    let res;
    try {
      res = await verify();
    } catch (err) {
      const token = err instanceof ApiError && err.status === 428 && err.problem.challenge && err.problem.challenge.token;
      if (!token) throw err;
      body.challenge = await answerChallenge(token);
      res = await verify();
    }
    window.location.assign(safeHomePath(res && res.home));
  } catch (err) {
    submitButton.disabled = false;
    submitButton.removeAttribute('aria-busy');
    showOtpProblem(err);
  }
}

sendButton.addEventListener('click', sendCode);
otpForm.addEventListener('submit', verifyCode);

loadPersonas();
