// 便民服务平台 · 市民 H5 首页（ES module）
//
// 底部“我的”标签打开“我的信息”：默认脱敏（GET /api/v1/me/profile），点“查看完整信息”才请求明文
// （POST /api/v1/me/profile/reveal，服务端写审计），30 秒或点“隐藏”、切走标签、页面进入后台时恢复脱敏。
//
// 已上线的服务磁贴标记 data-status="live" data-href="/citizen/xxx/"（公积金查询、我的授权），
// 其余仍为 data-status="soon"，点按只提示“即将上线”。某项服务上线时改磁贴属性即可，无需改这里的逻辑。
// “智能客服”磁贴打开右下角的客服浮窗；“消息”标签进入消息中心 /citizen/inbox/，并显示未读数。
// 只对部分角色开放的服务磁贴带 data-roles（如“供应链融资”只给企业用户），默认 hidden，按当前角色显示。

import { boot } from './shell.js';
import { api } from './api.js';
import { el, replace, toast, problemBanner, avatarChar } from './dom.js';

/** 成都时间的问候语（用户手机可能不在东八区，所以显式指定时区）。 */
function greetingWord(now = new Date()) {
  const hour = Number(
    new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Shanghai', hour: 'numeric', hourCycle: 'h23' }).format(now),
  );
  if (hour < 5) return '夜深了';
  if (hour < 11) return '上午好';
  if (hour < 13) return '中午好';
  if (hour < 18) return '下午好';
  return '晚上好';
}

function tileName(tile) {
  const name = tile.querySelector('.tile__name');
  return name ? name.textContent.trim() : '该服务';
}

function onTile(tile) {
  if (tile.dataset.service === 'assistant') {
    // 智能客服是浮窗（assistant.js），不是单独页面
    window.dispatchEvent(new CustomEvent('assistant:open'));
    return;
  }
  if (tile.dataset.status === 'live' && tile.dataset.href) {
    window.location.assign(tile.dataset.href);
    return;
  }
  toast(`“${tileName(tile)}”即将上线，敬请期待`);
}

// ---------- 底部标签：首页面板与“我的”面板；“服务”打开服务大厅 /citizen/hall/ ----------

function setTabCurrent(root, name) {
  for (const item of root.querySelectorAll('[data-tab]')) {
    if (item.dataset.tab === name) item.setAttribute('aria-current', 'page');
    else item.removeAttribute('aria-current');
  }
}

function showPanel(root, name) {
  for (const panel of root.querySelectorAll('[data-panel]')) {
    panel.hidden = panel.dataset.panel !== name;
  }
  // 地址栏记一下当前标签，刷新后仍停在“我的”；不用 location.hash 以免触发锚点滚动
  const hash = name === 'me' ? '#me' : '';
  if (window.location.hash !== hash) {
    history.replaceState(null, '', `${window.location.pathname}${window.location.search}${hash}`);
  }
}

function onTab(tab, root, profile) {
  switch (tab.dataset.tab) {
    case 'home':
      profile.leave();
      showPanel(root, 'home');
      setTabCurrent(root, 'home');
      window.scrollTo({ top: 0, behavior: 'smooth' });
      break;
    case 'services':
      // “服务”标签打开服务大厅：全部服务及各区开通情况
      profile.leave();
      window.location.assign('/citizen/hall/');
      break;
    case 'messages':
      profile.leave();
      window.location.assign('/citizen/inbox/');
      break;
    case 'me':
      openMe(root, profile);
      break;
    default:
      toast(`“${tab.textContent.trim()}”即将上线，敬请期待`);
  }
}

function openMe(root, profile) {
  showPanel(root, 'me');
  setTabCurrent(root, 'me');
  window.scrollTo({ top: 0 });
  root.querySelector('#me-title').focus({ preventScroll: true });
  profile.enter();
}

// ---------- 我的信息：默认脱敏，明文需主动查看、服务端留痕、30 秒后自动隐藏 ----------

const REVEAL_SECONDS = 30;

const FIELDS = [
  { key: 'name', label: '姓名', testid: 'profile-name' },
  { key: 'resident_id', label: '身份证号', testid: 'profile-resident-id', mono: true },
  { key: 'phone', label: '手机号', testid: 'profile-phone', mono: true },
];

/**
 * “我的信息”卡片的状态机。
 *   data-state：idle → loading → ready | erased | missing | error
 *   data-revealed：false | true（明文显示中）
 * 明文只存在于 DOM 与本闭包的局部变量里，隐藏时一并丢弃；从不写入 storage。
 */
function profileCard(card) {
  const body = card.querySelector('[data-profile="body"]');
  const badge = card.querySelector('[data-profile="badge"]');
  let masked = null; // 最近一次 GET /api/v1/me/profile 的结果
  let loading = null;
  let timer = null;
  let ticker = null;
  let deadline = 0;
  let generation = 0; // 每次隐藏/重载 +1，迟到的揭示响应据此作废

  const values = {}; // key → 显示值的 <dd>
  let notice = null;
  let countdown = null;
  let revealBtn = null;
  let hideBtn = null;
  let actionProblem = null;

  function setState(state) {
    card.dataset.state = state;
  }

  function setBadge(revealed) {
    badge.hidden = false;
    badge.className = revealed ? 'badge badge--warn' : 'badge badge--ok';
    badge.textContent = revealed ? '完整信息显示中' : '已脱敏';
  }

  function fill(profile) {
    for (const f of FIELDS) {
      const v = profile[f.key];
      values[f.key].textContent = v === null || v === undefined || v === '' ? '未登记' : String(v);
      values[f.key].classList.toggle('muted', v === null || v === undefined || v === '');
    }
  }

  function stopTimers() {
    clearTimeout(timer);
    clearInterval(ticker);
    timer = null;
    ticker = null;
  }

  function renderReady() {
    const list = el(
      'dl',
      { class: 'profile-list' },
      FIELDS.map((f) => {
        values[f.key] = el('dd', { class: f.mono ? 'profile-list__value mono' : 'profile-list__value', dataset: { testid: f.testid } });
        return el('div', { class: 'profile-list__row' }, el('dt', {}, f.label), values[f.key]);
      }),
    );
    countdown = el('span', { class: 'profile-notice__count', 'aria-hidden': 'true' });
    notice = el(
      'div',
      { class: 'profile-notice', role: 'status', dataset: { testid: 'reveal-notice' } },
    );
    revealBtn = el(
      'button',
      { class: 'btn btn--primary btn--block', type: 'button', dataset: { testid: 'reveal-profile' }, onclick: reveal },
      '查看完整信息',
    );
    hideBtn = el(
      'button',
      { class: 'btn btn--block', type: 'button', hidden: true, dataset: { testid: 'hide-profile' }, onclick: () => remask({ focus: true }) },
      '隐藏',
    );
    actionProblem = el('div', { class: 'profile-problem' });
    replace(body, list, notice, actionProblem, el('div', { class: 'profile-actions' }, revealBtn, hideBtn));
    fill(masked);
    card.dataset.revealed = 'false';
    setBadge(false);
    setState('ready');
  }

  function renderUnavailable(state, title, err) {
    stopTimers();
    masked = null;
    card.dataset.revealed = 'false';
    badge.hidden = true;
    replace(
      body,
      el(
        'div',
        { class: 'profile-empty', role: 'alert', dataset: { testid: `profile-${state}` } },
        el('p', { class: 'profile-empty__title' }, title),
        el('p', { class: 'profile-empty__text' }, err.detail || err.message),
        err.code ? el('p', { class: 'profile-empty__meta' }, `错误码：${err.code}${err.requestId ? ` · 请求编号：${err.requestId}` : ''}`) : null,
      ),
    );
    setState(state);
  }

  /** 410 / 404 / 其他错误的统一出口。 */
  function renderError(err) {
    if (err.redirecting) return; // 会话失效，正在回登录页
    if (err.status === 410) {
      renderUnavailable('erased', '您的个人信息已删除', err);
    } else if (err.status === 404) {
      renderUnavailable('missing', '尚未登记实名信息', err);
    } else {
      stopTimers();
      badge.hidden = true;
      replace(body, problemBanner(err, { onRetry: () => load() }));
      setState('error');
    }
  }

  async function load() {
    generation += 1;
    stopTimers();
    setState('loading');
    badge.hidden = true;
    replace(body, el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), '正在加载…'));
    try {
      masked = await api('/api/v1/me/profile');
      renderReady();
    } catch (err) {
      renderError(err);
    }
  }

  function tick() {
    const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    countdown.textContent = `${left} 秒后自动隐藏`;
  }

  async function reveal() {
    const mine = generation;
    revealBtn.disabled = true;
    revealBtn.textContent = '正在获取…';
    replace(actionProblem);
    let clear;
    try {
      clear = await api('/api/v1/me/profile/reveal', { method: 'POST', body: {} });
    } catch (err) {
      if (mine !== generation) return;
      revealBtn.disabled = false;
      revealBtn.textContent = '查看完整信息';
      if (err.status === 410 || err.status === 404) renderError(err);
      else if (!err.redirecting) replace(actionProblem, problemBanner(err));
      return;
    }
    if (mine !== generation) return; // 等待期间已切走或隐藏：不再展示明文

    fill(clear);
    clear = null;
    card.dataset.revealed = 'true';
    setBadge(true);
    deadline = Date.now() + REVEAL_SECONDS * 1000;
    replace(
      notice,
      el('span', { class: 'profile-notice__text' }, '本次查看已记录（审计留痕）。为保护您的隐私，完整信息将自动隐藏，请勿截屏或转发。'),
      countdown,
    );
    notice.hidden = false;
    tick();
    ticker = setInterval(tick, 1000);
    timer = setTimeout(() => remask(), REVEAL_SECONDS * 1000);
    revealBtn.hidden = true;
    revealBtn.disabled = false;
    revealBtn.textContent = '查看完整信息';
    hideBtn.hidden = false;
    hideBtn.focus();
  }

  /** 恢复脱敏显示。focus：由“隐藏”按钮触发时把焦点还给“查看完整信息”。 */
  function remask({ focus = false } = {}) {
    generation += 1;
    stopTimers();
    if (card.dataset.state !== 'ready') return;
    if (revealBtn.disabled) {
      // 揭示请求还在路上：作废它，按钮复原
      revealBtn.disabled = false;
      revealBtn.textContent = '查看完整信息';
    }
    if (card.dataset.revealed !== 'true') return;
    fill(masked);
    card.dataset.revealed = 'false';
    setBadge(false);
    replace(notice);
    hideBtn.hidden = true;
    revealBtn.hidden = false;
    if (focus) revealBtn.focus();
  }

  return {
    /** 进入“我的”：首次进入或上次出错时加载。 */
    enter() {
      const state = card.dataset.state;
      if (state === 'idle' || state === 'error') loading = load();
      return loading;
    },
    /** 离开“我的”（切标签、页面进入后台）：立即重新脱敏。 */
    leave() {
      remask();
    },
  };
}

/** “消息”标签上的未读角标（GET /api/v1/me/inbox）；取不到时不显示，不影响首页。 */
async function inboxBadge(tab) {
  try {
    const r = await api('/api/v1/me/inbox', { redirectOn401: false });
    const unread = Number(r && r.unread) || 0;
    tab.querySelector('.tabbar__badge')?.remove();
    if (unread > 0) {
      tab.append(el('span', { class: 'tabbar__badge', dataset: { testid: 'inbox-unread' } }, unread > 99 ? '99+' : String(unread)));
      tab.setAttribute('aria-label', `消息，${unread} 条未读`);
    }
  } catch {
    // 企业用户等没有消息中心，静默忽略
  }
}

function renderMeHero(host, me) {
  replace(
    host,
    el('span', { class: 'me-hero__avatar', 'aria-hidden': 'true' }, avatarChar(me.display_name)),
    el(
      'div',
      { class: 'me-hero__text' },
      el('span', { class: 'me-hero__name' }, me.display_name || '未命名用户'),
      el(
        'span',
        { class: 'me-hero__meta' },
        me.role_label || me.role || '',
        me.department && me.department.name ? ` · ${me.department.name}` : '',
      ),
    ),
  );
}

boot((me, root) => {
  replace(root.querySelector('[data-testid="greeting"]'), `${greetingWord()}，${me.display_name || ''}`);

  const meta = root.querySelector('[data-citizen="meta"]');
  replace(
    meta,
    el('span', { class: 'greeting__pill' }, me.role_label || me.role),
    me.department && me.department.name ? el('span', { class: 'greeting__pill' }, me.department.name) : null,
  );

  for (const tile of root.querySelectorAll('.tile[data-roles]')) {
    tile.hidden = !tile.dataset.roles.split(/\s+/).includes(me.role);
  }

  root.querySelector('[data-testid="service-grid"]').addEventListener('click', (event) => {
    const tile = event.target.closest('[data-service]');
    if (tile) onTile(tile);
  });

  renderMeHero(root.querySelector('[data-citizen="me-hero"]'), me);
  const profile = profileCard(root.querySelector('[data-testid="profile"]'));

  root.querySelector('[data-testid="tabbar"]').addEventListener('click', (event) => {
    const tab = event.target.closest('[data-tab]');
    if (tab) onTab(tab, root, profile);
  });

  // 页面切到后台 / 离开（含进入往返缓存）时立即隐藏明文
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') profile.leave();
  });
  window.addEventListener('pagehide', () => profile.leave());

  if (me.role === 'citizen') inboxBadge(root.querySelector('[data-tab="messages"]'));

  if (window.location.hash === '#me') openMe(root, profile);
});
