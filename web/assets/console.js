// 便民服务平台 · 银行运营控制台（ES module）
//
// 左侧导航用 URL hash 切换视图（#overview、#review…），刷新页面后仍停在原处。
// 概览页显示 /healthz（进程存活）与 /readyz（依赖就绪，未就绪时返回 503 problem）。

import { boot } from './shell.js';
import { api, ApiError } from './api.js';
import { el, replace, problemBanner } from './dom.js';

const VIEWS = ['overview', 'review', 'kb', 'antibot', 'audit', 'system'];
const CHECK_LABELS = { database: '数据库' };
const TIMEOUT_MS = 8000;

// ---------- 视图切换 ----------

function currentView() {
  const name = window.location.hash.replace(/^#/, '');
  return VIEWS.includes(name) ? name : 'overview';
}

function showView(root, { focus = false } = {}) {
  const name = currentView();
  for (const section of root.querySelectorAll('[data-view]')) {
    section.hidden = section.dataset.view !== name;
  }
  for (const link of root.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  // 点击导航后把焦点移到内容区，键盘与读屏用户不用再 Tab 穿过整个侧栏
  if (focus) root.querySelector('#content').focus({ preventScroll: true });
}

// ---------- 状态检查 ----------

/** 带超时的 GET：探针卡住时也要让页面给出结论。 */
async function probe(path) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
  try {
    return await api(path, { signal: ctrl.signal });
  } catch (err) {
    if (err && err.name === 'AbortError') {
      throw new ApiError({ title: '请求超时', detail: `${TIMEOUT_MS / 1000} 秒内未收到响应。`, code: 'client.timeout' }, 0);
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function statusLine(ok, text) {
  return el(
    'p',
    { class: 'status-line' },
    el('span', { class: ok ? 'dot dot--ok' : 'dot dot--danger', 'aria-hidden': 'true' }),
    text,
  );
}

function checksTable(checks) {
  const entries = Object.entries(checks || {});
  if (entries.length === 0) return null;
  return el(
    'table',
    { class: 'check-table' },
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, '检查项'), el('th', { scope: 'col' }, '结果'))),
    el(
      'tbody',
      {},
      entries.map(([name, result]) => {
        const text = typeof result === 'string' ? result : JSON.stringify(result);
        return el(
          'tr',
          { dataset: { check: name } },
          el('td', {}, CHECK_LABELS[name] ? `${CHECK_LABELS[name]}（${name}）` : name),
          el('td', {}, el('span', { class: text === 'ok' ? 'badge badge--ok' : 'badge badge--danger' }, text)),
        );
      }),
    ),
  );
}

function setCard(card, status, ...content) {
  card.dataset.status = status;
  replace(card.querySelector('[data-status-body]'), el('div', { class: 'stack stack--s' }, ...content));
}

async function checkHealth(card) {
  try {
    const h = await probe('/healthz');
    const ok = h && h.status === 'ok';
    setCard(
      card,
      ok ? 'ok' : 'error',
      statusLine(ok, ok ? '运行正常' : `异常（${(h && h.status) || '未知'}）`),
      el(
        'dl',
        { class: 'kv small' },
        el('dt', {}, '状态'), el('dd', { class: 'mono' }, (h && h.status) || '—'),
        el('dt', {}, '版本'), el('dd', { class: 'mono', dataset: { testid: 'server-version' } }, (h && h.version) || '—'),
      ),
    );
  } catch (err) {
    setCard(card, 'error', statusLine(false, '无法访问'), problemBanner(err));
  }
}

async function checkReady(card) {
  try {
    const r = await probe('/readyz');
    const ok = r && r.status === 'ready';
    setCard(card, ok ? 'ok' : 'error', statusLine(ok, ok ? '已就绪' : `未就绪（${(r && r.status) || '未知'}）`), checksTable(r && r.checks));
  } catch (err) {
    // 503 时服务端可能把各项检查结果放在 problem 的扩展字段 checks 里
    const checks = err instanceof ApiError ? err.problem.checks : null;
    setCard(card, 'error', statusLine(false, '未就绪'), checksTable(checks), problemBanner(err, { variant: 'warn' }));
  }
}

const timeFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});

async function refreshStatus(root) {
  const button = root.querySelector('[data-testid="refresh-status"]');
  button.disabled = true;
  await Promise.all([
    checkHealth(root.querySelector('[data-testid="health-status"]')),
    checkReady(root.querySelector('[data-testid="ready-status"]')),
  ]);
  root.querySelector('[data-testid="last-checked"]').textContent = `最后检查：${timeFmt.format(new Date())}`;
  button.disabled = false;
}

boot(async (me, root) => {
  showView(root);
  window.addEventListener('hashchange', () => showView(root, { focus: true }));
  root.querySelector('[data-testid="refresh-status"]').addEventListener('click', () => refreshStatus(root));
  // 等首轮状态检查完成再标记 page-ready，测试拿到的就是最终状态
  await refreshStatus(root);
});
