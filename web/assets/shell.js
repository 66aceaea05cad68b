// 便民服务平台 · 页面外壳（ES module）
//
// 每个需要登录的页面这样声明并启动：
//
//   <body data-page="citizen-home" data-roles="citizen enterprise">
//     <div data-shell="header"></div>          ← 完整公共页头（品牌 + 当前用户 + 退出）
//     <span data-shell="user"></span>          ← 或者只要“当前用户 + 退出”块（驾驶舱用）
//     <main data-shell="main" hidden>…</main>  ← 页面主体，校验通过并渲染完才显示
//
//   import { boot } from '/assets/shell.js';
//   boot(async (me, root) => { /* 渲染页面 */ });
//
// boot 的顺序：GET /api/v1/me → 渲染页头 → 校验角色 → 页面 render → 主体显示并打上
// data-testid="page-ready"。主体一开始就是 hidden，所以无权用户不会“闪”到页面内容。
// <body data-shell-state> 依次为 loading → ready | denied | error，供测试与样式使用。

import { getMe, logout, safeHomePath } from './api.js';
import { el, replace, problemBanner, toast } from './dom.js';

/**
 * @param {(me: object, root: HTMLElement) => (void|Promise<void>)} [render]
 * @returns {Promise<object|null>} 通过校验时返回 me，否则 null
 */
export async function boot(render) {
  const body = document.body;
  const root = document.querySelector('[data-shell="main"]') || document.querySelector('main');
  const allowed = (body.dataset.roles || '').split(/\s+/).filter(Boolean);
  const status = statusHost(root);

  setState('loading');
  replace(status, el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), '正在加载…'));

  let me;
  try {
    me = await getMe();
  } catch (err) {
    if (err.redirecting) {
      // api.js 已经在跳转回登录页，这里只给个过渡提示
      replace(status, el('div', { class: 'loading', role: 'status' }, '尚未登录或登录已失效，正在前往登录页…'));
      return null;
    }
    setState('error');
    replace(status, el('div', { class: 'container container--narrow' }, problemBanner(err, { onRetry: () => window.location.reload() })));
    return null;
  }

  renderHeader(me);

  if (allowed.length && !allowed.includes(me.role)) {
    setState('denied');
    replace(status, deniedPanel(me));
    return null;
  }

  try {
    if (render) await render(me, root);
  } catch (err) {
    console.error(err);
    setState('error');
    replace(status, el('div', { class: 'container container--narrow' }, problemBanner(err, { onRetry: () => window.location.reload() })));
    return null;
  }

  status.remove();
  if (root) {
    root.hidden = false;
    root.dataset.testid = 'page-ready';
  }
  setState('ready');
  return me;
}

function setState(state) {
  document.body.dataset.shellState = state;
}

/** 加载 / 无权 / 出错提示放在主体之前的同级位置，主体保持隐藏。 */
function statusHost(root) {
  const host = el('div', { dataset: { shell: 'status' } });
  if (root && root.parentNode) root.before(host);
  else document.body.append(host);
  return host;
}

/** 把公共页头渲染进 [data-shell="header"]，把用户块渲染进 [data-shell="user"]。 */
export function renderHeader(me) {
  for (const slot of document.querySelectorAll('[data-shell="header"]')) {
    const subtitle = slot.dataset.title;
    replace(
      slot,
      el(
        'header',
        { class: 'app-header' },
        el(
          'div',
          { class: 'app-header__inner' },
          el(
            'a',
            { class: 'brand', href: safeHomePath(me.home), 'aria-label': '便民服务平台 首页' },
            el('span', { class: 'brand__mark', 'aria-hidden': 'true' }, '便'),
            el('span', { class: 'brand__title' }, '便民服务'),
            subtitle ? el('span', { class: 'brand__sub' }, subtitle) : null,
          ),
          userChip(me),
        ),
      ),
    );
  }
  for (const slot of document.querySelectorAll('[data-shell="user"]')) {
    replace(slot, userChip(me));
  }
}

function userChip(me) {
  const dept = me.department && me.department.name;
  const logoutBtn = el('button', { class: 'btn btn--s btn--ghost', type: 'button', dataset: { testid: 'logout' } }, '退出');
  logoutBtn.addEventListener('click', () => doLogout(logoutBtn));

  return el(
    'div',
    { class: 'user-chip', dataset: { testid: 'user' } },
    el(
      'div',
      { class: 'user-chip__text' },
      // display_name 已由服务端脱敏（如 “*伟”），前端原样展示，不做二次处理
      el('span', { class: 'user-chip__name', dataset: { testid: 'whoami' } }, me.display_name || '未命名用户'),
      el(
        'span',
        { class: 'user-chip__meta' },
        el('span', { dataset: { testid: 'role-label' } }, me.role_label || me.role || ''),
        dept ? el('span', { 'aria-hidden': 'true' }, '·') : null,
        dept ? el('span', { class: 'user-chip__dept', title: dept, dataset: { testid: 'department' } }, dept) : null,
      ),
    ),
    logoutBtn,
  );
}

async function doLogout(button) {
  button.disabled = true;
  button.textContent = '正在退出…';
  try {
    await logout();
    window.location.assign('/');
  } catch (err) {
    button.disabled = false;
    button.textContent = '退出';
    toast(`退出失败：${err.detail || err.message}`);
  }
}

function deniedPanel(me) {
  const roleLabel = me.role_label || me.role || '未知';
  const switchBtn = el('button', { class: 'btn', type: 'button' }, '切换身份');
  switchBtn.addEventListener('click', () => doLogout(switchBtn));

  return el(
    'section',
    { class: 'card state-panel', role: 'alert', dataset: { testid: 'access-denied' } },
    el('div', { class: 'state-panel__icon', 'aria-hidden': 'true' }, '!'),
    el('h1', { class: 'state-panel__title' }, '无权访问此页面'),
    el('p', { class: 'state-panel__text' }, `您当前的身份是“${roleLabel}”，没有访问此页面的权限。如需访问，请使用具备相应权限的身份登录。`),
    el(
      'div',
      { class: 'cluster state-panel__actions' },
      el('a', { class: 'btn btn--primary', href: safeHomePath(me.home), dataset: { testid: 'go-home' } }, '返回我的首页'),
      switchBtn,
    ),
  );
}
