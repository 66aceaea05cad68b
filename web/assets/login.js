// 便民服务平台 · 演示登录页（ES module）
//
// 列出开发环境身份提供方的预置身份（GET /api/v1/auth/personas），按角色分组；
// 点击后 POST /api/v1/auth/dev-login，服务端写入 HttpOnly 会话 Cookie 并返回 home，前端跳转过去。
// 本页不需要登录，所以所有请求都关闭了 401 自动跳转。

import { api, safeHomePath } from './api.js';
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

loadPersonas();
