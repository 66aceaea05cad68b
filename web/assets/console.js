// 便民服务平台 · 银行运营控制台（ES module）
//
// 左侧导航用 URL hash 切换视图（#overview、#review…），刷新页面后仍停在原处。
// 概览页显示 /healthz（进程存活）与 /readyz（依赖就绪，未就绪时返回 503 problem），
// 以及 /api/v1/ops/overview 的运行概况（数据库、会话、事件、各角色用户数）。
// 审计日志页（首次打开时才请求）：审计人员、管理员可分页浏览记录并校验 HMAC-SM3 链；
// 银行运营人员由服务端拒绝（403），页面展示服务端给出的说明。
// 人工复核页（首次打开时才请求，银行运营人员）：闪电贷申请人依《个人信息保护法》第二十四条要求
// 复核的未通过申请，逐条展示审批依据（评分、模型版本、未通过原因、申请人陈述），可“复现决策”
// 核对原决策能否按记录的输入与版本重算出来，维持原结果或改为通过（须写复核意见，改为通过须核定额度）。

import { boot } from './shell.js';
import { api, ApiError } from './api.js';
import { el, replace, problemBanner, toast } from './dom.js';

const VIEWS = ['overview', 'review', 'kb', 'antibot', 'audit', 'system'];
const CHECK_LABELS = { database: '数据库' };
const TIMEOUT_MS = 8000;

// ---------- 视图切换 ----------

function currentView() {
  const name = window.location.hash.replace(/^#/, '');
  return VIEWS.includes(name) ? name : 'overview';
}

function showView(root, { focus = false, onShow } = {}) {
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
  return onShow ? onShow(name) : undefined;
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

// ---------- 运行概况 ----------

const ROLE_ORDER = ['citizen', 'enterprise', 'government_officer', 'bank_operator', 'auditor', 'admin'];
const ROLE_LABELS = {
  citizen: '市民',
  enterprise: '企业用户',
  government_officer: '政府部门人员',
  bank_operator: '银行运营人员',
  auditor: '审计人员',
  admin: '系统管理员',
};
const DB_LABELS = { sqlite: 'SQLite', postgres: 'PostgreSQL', postgresql: 'PostgreSQL' };
const numFmt = new Intl.NumberFormat('zh-CN');

function fmtCount(n) {
  return typeof n === 'number' && Number.isFinite(n) ? numFmt.format(n) : '—';
}

function stat(testid, label, value, hint) {
  return el(
    'div',
    { class: 'stat', dataset: { testid } },
    el('span', { class: 'stat__label' }, label),
    el('span', { class: 'stat__value' }, value),
    hint ? el('span', { class: 'stat__hint' }, hint) : null,
  );
}

function roleCounts(byRole) {
  const rank = (role) => {
    const i = ROLE_ORDER.indexOf(role);
    return i === -1 ? ROLE_ORDER.length : i;
  };
  const entries = Object.entries(byRole || {}).sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
  return el(
    'div',
    { class: 'role-counts' },
    el('h3', { class: 'role-counts__title' }, '各角色用户数'),
    entries.length === 0
      ? el('p', { class: 'muted small' }, '暂无用户。')
      : el(
        'ul',
        { class: 'role-counts__list', dataset: { testid: 'overview-roles' } },
        entries.map(([role, count]) =>
          el(
            'li',
            { class: 'role-counts__item', dataset: { role } },
            el('span', { class: 'role-counts__name', title: role }, ROLE_LABELS[role] || role),
            el('span', { class: 'role-counts__num' }, fmtCount(count)),
          ),
        ),
      ),
  );
}

async function loadOverview(card) {
  try {
    const o = await probe('/api/v1/ops/overview');
    const byRole = (o && o.principals_by_role) || {};
    const total = Object.values(byRole).reduce((sum, n) => sum + (Number(n) || 0), 0);
    const db = o && o.database;
    setCard(
      card,
      'ok',
      el(
        'div',
        { class: 'stat-row' },
        stat('overview-database', '数据库', DB_LABELS[db] || db || '—', o && o.version ? `服务版本 ${o.version}` : null),
        stat('overview-sessions', '有效会话', fmtCount(o && o.active_sessions), '未撤销且未过期'),
        stat('overview-events', '领域事件', fmtCount(o && o.outbox_events), '发件箱累计记录'),
        stat('overview-principals', '用户总数', fmtCount(total), '各角色合计'),
      ),
      roleCounts(byRole),
    );
  } catch (err) {
    setCard(card, 'error', problemBanner(err));
  }
}

// ---------- 审计日志 ----------

const AUDIT_PAGE = 100;
const ACTION_LABELS = {
  'person.reveal': '查看个人明文信息',
  'person.erase': '删除个人信息（密码销毁）',
  'keys.rotate': '轮换主密钥',
  'keys.rewrap': '重新封装数据密钥',
  'keys.retire': '停用旧密钥版本',
};
const PURPOSE_LABELS = {
  self_service: '本人自助查看',
  manual_review: '人工复核',
  customer_request: '客户申请',
  legal_request: '司法或监管要求',
};
// UUIDv7 的前 12 位是时间戳，同一时段的 id 前缀相同，所以缩写时保留首 4 位与末 8 位
const UUID_RE = /\b([0-9a-f]{4})[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}([0-9a-f]{8})\b/gi;

const beijingFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});

/** RFC 3339 → “2025-03-12 14:05:09”（北京时间，与浏览器所在时区无关）。 */
function beijingTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso || '—');
  const p = Object.fromEntries(beijingFmt.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** 长 UUID 缩写为“首 4 位…末 8 位”，完整值放在 title 里（悬停可见）。 */
function idRef(value) {
  const full = value === null || value === undefined || value === '' ? '—' : String(value);
  return el('span', { class: 'id-ref', title: full }, full.replace(UUID_RE, '$1…$2'));
}

function labelled(code, labels) {
  if (code === null || code === undefined || code === '') return el('span', { class: 'muted' }, '—');
  const label = labels[code];
  if (!label) return el('span', { class: 'mono' }, String(code));
  return [el('span', {}, label), el('span', { class: 'sub mono' }, code)];
}

function detailsText(details) {
  if (details === null || details === undefined) return '—';
  if (typeof details !== 'object' || Array.isArray(details)) return JSON.stringify(details);
  const parts = Object.entries(details).map(([k, v]) => {
    let text;
    if (Array.isArray(v)) text = v.length ? v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ') : '[]';
    else if (v !== null && typeof v === 'object') text = JSON.stringify(v);
    else text = String(v);
    return `${k}: ${text}`;
  });
  return parts.length ? parts.join('；') : '—';
}

function auditRow(e) {
  return el(
    'tr',
    { dataset: { testid: 'audit-row', seq: e.seq, action: e.action } },
    el('td', { class: 'num' }, String(e.seq)),
    el('td', { class: 'num' }, el('time', { datetime: e.occurred_at }, beijingTime(e.occurred_at))),
    el('td', {}, idRef(e.actor)),
    el('td', {}, labelled(e.action, ACTION_LABELS)),
    el('td', {}, idRef(e.target)),
    el('td', {}, labelled(e.purpose, PURPOSE_LABELS)),
    el('td', { class: 'details', title: e.tag ? `校验标签：${e.tag}` : null }, detailsText(e.details)),
  );
}

function auditDenied(err) {
  return el(
    'section',
    { class: 'card state-panel', role: 'alert', dataset: { testid: 'audit-denied', code: err.code || '' } },
    el('div', { class: 'state-panel__icon', 'aria-hidden': 'true' }, '!'),
    el('h2', { class: 'state-panel__title' }, '无权查看'),
    el('p', { class: 'state-panel__text' }, err.detail || err.message),
    el('p', { class: 'small muted' }, '审计日志仅限审计人员与系统管理员查看。'),
    err.code || err.requestId
      ? el(
        'p',
        { class: 'small muted' },
        [err.code ? `错误码：${err.code}` : '', err.requestId ? `请求编号：${err.requestId}` : ''].filter(Boolean).join(' · '),
      )
      : null,
  );
}

/** 审计日志视图：首次显示时加载；之后“刷新”从头重载，“加载更多”按 after=最后序号 续页。 */
function auditView(host) {
  let started = null;
  let lastSeq = 0;
  let loaded = 0;
  let brokenSeq = null;
  let tbody;
  let foot;
  let countText;
  let verifyBtn;
  let verifyResult;
  let verifyProblem;

  function fetchPage(after) {
    return api(`/api/v1/audit/entries?after=${encodeURIComponent(after)}&limit=${AUDIT_PAGE}`);
  }

  function markBroken() {
    if (!tbody) return;
    for (const row of tbody.querySelectorAll('tr')) {
      row.classList.toggle('is-broken', brokenSeq !== null && Number(row.dataset.seq) === brokenSeq);
    }
  }

  function appendPage(entries) {
    if (loaded === 0 && entries.length === 0) {
      replace(tbody, el('tr', {}, el('td', { colspan: '7' }, el('div', { class: 'empty', dataset: { testid: 'audit-empty' } }, '暂无审计记录'))));
    }
    for (const e of entries) {
      tbody.append(auditRow(e));
      lastSeq = Math.max(lastSeq, Number(e.seq) || 0);
    }
    loaded += entries.length;
    countText.textContent = `已加载 ${numFmt.format(loaded)} 条`;
    markBroken();
    if (entries.length === AUDIT_PAGE) {
      const more = el('button', { class: 'btn', type: 'button', dataset: { testid: 'audit-load-more' } }, '加载更多');
      more.addEventListener('click', () => loadMore(more));
      replace(foot, more);
    } else {
      replace(foot, el('p', { class: 'small muted', dataset: { testid: 'audit-end' } }, loaded ? `已全部加载，共 ${numFmt.format(loaded)} 条。` : ''));
    }
  }

  async function loadMore(button) {
    button.disabled = true;
    button.textContent = '正在加载…';
    try {
      appendPage(await fetchPage(lastSeq));
    } catch (err) {
      if (err.redirecting) return;
      const retry = el('button', { class: 'btn', type: 'button', dataset: { testid: 'audit-load-more' } }, '加载更多');
      retry.addEventListener('click', () => loadMore(retry));
      replace(foot, el('div', { class: 'stack stack--s' }, problemBanner(err), el('div', {}, retry)));
    }
  }

  async function verify() {
    verifyBtn.disabled = true;
    verifyBtn.textContent = '正在校验…';
    verifyResult.removeAttribute('data-intact');
    replace(verifyProblem);
    replace(verifyResult, el('span', { class: 'verify-result__text' }, '正在重新计算审计链…'));
    try {
      const v = await api('/api/v1/audit/verify');
      const intact = Boolean(v && v.intact);
      const checked = numFmt.format(Number(v && v.entries_checked) || 0);
      const at = beijingTime(new Date().toISOString());
      let text;
      if (intact) text = `审计链完整：已校验 ${checked} 条`;
      else if (v.first_broken_seq !== null && v.first_broken_seq !== undefined) text = `审计链在第 ${v.first_broken_seq} 条处被破坏：${v.reason || '原因未知'}`;
      else text = `审计链被破坏：${(v && v.reason) || '原因未知'}`;
      brokenSeq = intact || v.first_broken_seq === null || v.first_broken_seq === undefined ? null : Number(v.first_broken_seq);
      verifyResult.dataset.intact = String(intact);
      replace(
        verifyResult,
        el('span', { class: 'verify-result__icon', 'aria-hidden': 'true' }, intact ? '✓' : '✕'),
        el(
          'span',
          { class: 'verify-result__text' },
          text,
          el('span', { class: 'verify-result__meta' }, intact ? `校验时间 ${at}（北京时间）` : `已校验 ${checked} 条 · 校验时间 ${at}（北京时间）`),
        ),
      );
      markBroken();
    } catch (err) {
      replace(verifyResult);
      if (!err.redirecting) replace(verifyProblem, problemBanner(err));
    } finally {
      verifyBtn.disabled = false;
      verifyBtn.textContent = '校验完整性';
    }
  }

  function renderShell() {
    verifyBtn = el('button', { class: 'btn btn--primary', type: 'button', dataset: { testid: 'audit-verify' } }, '校验完整性');
    verifyBtn.addEventListener('click', verify);
    const refreshBtn = el('button', { class: 'btn', type: 'button', dataset: { testid: 'audit-refresh' } }, '刷新');
    refreshBtn.addEventListener('click', () => reload());
    countText = el('span', { class: 'small muted', dataset: { testid: 'audit-count' } });
    verifyResult = el('div', { class: 'verify-result', role: 'status', 'aria-live': 'polite', dataset: { testid: 'audit-verify-result' } });
    verifyProblem = el('div');
    tbody = el('tbody', {});
    foot = el('div', { class: 'table-foot' });
    replace(
      host,
      el(
        'div',
        { class: 'stack' },
        el('div', { class: 'cluster cluster--between' }, el('div', { class: 'cluster' }, verifyBtn, refreshBtn), countText),
        verifyResult,
        verifyProblem,
        el(
          'article',
          { class: 'card', 'aria-label': '审计记录' },
          el(
            'div',
            { class: 'table-wrap' },
            el(
              'table',
              { class: 'data-table', dataset: { testid: 'audit-table' } },
              el(
                'thead',
                {},
                el(
                  'tr',
                  {},
                  el('th', { scope: 'col' }, '序号'),
                  el('th', { scope: 'col' }, '时间（北京时间）'),
                  el('th', { scope: 'col' }, '操作者'),
                  el('th', { scope: 'col' }, '操作'),
                  el('th', { scope: 'col' }, '对象'),
                  el('th', { scope: 'col' }, '目的'),
                  el('th', { scope: 'col' }, '详情'),
                ),
              ),
              tbody,
            ),
          ),
          foot,
        ),
      ),
    );
  }

  async function reload() {
    lastSeq = 0;
    loaded = 0;
    replace(host, el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), '加载中…'));
    try {
      const first = await fetchPage(0);
      renderShell();
      appendPage(first);
    } catch (err) {
      if (err.redirecting) return;
      if (err.status === 403) replace(host, auditDenied(err));
      else replace(host, problemBanner(err, { onRetry: () => reload() }));
    }
  }

  return {
    show() {
      if (!started) started = reload();
      return started;
    },
  };
}

// ---------- 人工复核（闪电贷） ----------

const REVIEW_STATES = {
  pending: ['待复核', 'badge badge--warn'],
  upheld: ['维持原结果', 'badge'],
  overturned: ['改为通过', 'badge badge--ok'],
};
const MAX_LIMIT_FEN = 20000000n; // 闪电贷最高额度 200,000 元

/** 元字符串或输入 → 整数分；不合法时返回 null。 */
function toFen(text) {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(text ?? '').replace(/[,，\s元¥]/g, ''));
  return m ? BigInt(m[1]) * 100n + BigInt((m[2] || '0').padEnd(2, '0')) : null;
}

function fenToText(fen) {
  return `${fen / 100n}.${String(fen % 100n).padStart(2, '0')}`;
}

/** '12345.60' → '12,345.60'（纯字符串处理）。 */
function yuan(text) {
  const [int, frac = '00'] = String(text ?? '0').split('.');
  return `${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${frac.padEnd(2, '0')}`;
}

function reviewDenied(err) {
  return el(
    'section',
    { class: 'card state-panel', role: 'alert', dataset: { testid: 'review-denied', code: err.code || '' } },
    el('div', { class: 'state-panel__icon', 'aria-hidden': 'true' }, '!'),
    el('h2', { class: 'state-panel__title' }, '无权处理'),
    el('p', { class: 'state-panel__text' }, err.detail || err.message),
    el('p', { class: 'small muted' }, '人工复核仅限银行运营人员处理。'),
  );
}

/** “复现决策”：按记录的输入摘要与模型、策略版本重算，确认原决策可复现。 */
function replayBlock(item) {
  const result = el('div', { class: 'replay-result', role: 'status', 'aria-live': 'polite', dataset: { testid: 'replay-result' } });
  const button = el('button', { class: 'btn btn--s', type: 'button', dataset: { testid: 'review-replay' } }, '复现决策');
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.textContent = '正在复现…';
    replace(result);
    try {
      const r = await api(`/api/v1/console/loan/applications/${encodeURIComponent(item.application_id)}/replay`);
      result.dataset.replayed = String(Boolean(r.replayed));
      replace(
        result,
        el(
          'p',
          { class: 'status-line small' },
          el('span', { class: r.replayed ? 'dot dot--ok' : 'dot dot--danger', 'aria-hidden': 'true' }),
          r.replayed ? '决策可复现：重算结果与原决策一致' : '无法复现：重算结果与原决策不一致，请上报模型风险管理',
        ),
        el(
          'dl',
          { class: 'kv small' },
          el('dt', {}, '模型版本'), el('dd', { class: 'mono' }, r.model_version || '—'),
          el('dt', {}, '策略版本'), el('dd', { class: 'mono' }, r.policy_version || '—'),
          el('dt', {}, '输入摘要'), el('dd', { class: 'mono', title: r.inputs_hash || '' }, r.inputs_hash || '—'),
        ),
      );
    } catch (err) {
      delete result.dataset.replayed;
      if (!err.redirecting) replace(result, problemBanner(err));
    } finally {
      button.disabled = false;
      button.textContent = '复现决策';
    }
  });
  return el('div', { class: 'stack stack--s' }, el('div', {}, button), result);
}

function reviewForm(item, onResolved) {
  const id = String(item.id).replace(/[^0-9a-zA-Z-]/g, '');
  const radio = (value, label) =>
    el('label', {}, el('input', { type: 'radio', name: `outcome-${id}`, value, dataset: { testid: `review-outcome-${value}` } }), label);
  const limit = el('input', {
    id: `limit-${id}`, class: 'input', inputmode: 'decimal', autocomplete: 'off', value: item.amount || '',
    'aria-describedby': `limit-hint-${id}`, dataset: { testid: 'review-limit' },
  });
  const limitField = el(
    'div',
    { class: 'field', hidden: true },
    el('label', { class: 'field__label', for: `limit-${id}` }, '核定额度（元）'),
    limit,
    el('p', { id: `limit-hint-${id}`, class: 'field__hint' }, `默认为申请额度，最高 ${yuan(fenToText(MAX_LIMIT_FEN))} 元。`),
  );
  const note = el('textarea', { id: `note-${id}`, class: 'textarea', maxlength: '500', rows: '3', dataset: { testid: 'review-note-input' } });
  const problem = el('div');
  const submit = el('button', { class: 'btn btn--primary', type: 'submit', dataset: { testid: 'review-resolve' } }, '提交复核结论');
  const form = el(
    'form',
    { class: 'review-form stack stack--s', novalidate: true, 'aria-label': '复核结论' },
    el('fieldset', {}, el('legend', {}, '复核结论'), el('div', { class: 'review-form__outcomes' }, radio('upheld', '维持原结果（不通过）'), radio('overturned', '改为通过'))),
    limitField,
    el('div', { class: 'field' }, el('label', { class: 'field__label', for: `note-${id}` }, '复核意见（将告知申请人）'), note),
    problem,
    el('div', {}, submit),
  );
  form.addEventListener('change', (e) => {
    if (e.target.name === `outcome-${id}`) limitField.hidden = e.target.value !== 'overturned';
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const outcome = form.querySelector(`input[name="outcome-${id}"]:checked`)?.value;
    const text = note.value.trim();
    const complain = (message) => replace(problem, problemBanner({ detail: message, code: 'client.invalid' }, { variant: 'warn' }));
    if (!outcome) return complain('请选择复核结论。');
    if (!text) {
      note.focus();
      return complain('请填写复核意见。');
    }
    const body = { outcome, note: text };
    if (outcome === 'overturned') {
      const fen = toFen(limit.value);
      if (fen === null || fen <= 0n || fen > MAX_LIMIT_FEN) {
        limit.focus();
        return complain(`核定额度须为 0 至 ${yuan(fenToText(MAX_LIMIT_FEN))} 元之间的金额。`);
      }
      body.limit = fenToText(fen);
    }
    submit.disabled = true;
    submit.textContent = '正在提交…';
    replace(problem);
    try {
      const resolved = await api(`/api/v1/console/loan/reviews/${encodeURIComponent(item.id)}/resolve`, { method: 'POST', body });
      toast(outcome === 'overturned' ? '已改为通过，申请人可签约用款' : '已维持原结果');
      onResolved({ ...item, ...resolved });
    } catch (err) {
      submit.disabled = false;
      submit.textContent = '提交复核结论';
      if (!err.redirecting) replace(problem, problemBanner(err));
    }
  });
  return form;
}

function reviewItem(item) {
  const [stateText, stateClass] = REVIEW_STATES[item.state] || [item.state, 'badge'];
  const reasons = item.decline_reasons || [];
  const card = el(
    'article',
    { class: 'card review-item', 'aria-labelledby': `review-${item.id}`, dataset: { testid: 'review-item', id: item.id, state: item.state } },
    el(
      'div',
      { class: 'card__header' },
      el('h2', { id: `review-${item.id}`, class: 'card__title' }, `${item.applicant || '申请人'} · 申请 ¥${yuan(item.amount)}`),
      el('span', { class: stateClass, dataset: { testid: 'review-state' } }, stateText),
    ),
    el(
      'div',
      { class: 'review-item__grid' },
      el(
        'div',
        {},
        el(
          'dl',
          { class: 'kv small review-item__facts' },
          el('dt', {}, '复核申请时间'), el('dd', {}, el('time', { datetime: item.requested_at }, beijingTime(item.requested_at))),
          el('dt', {}, '申请编号'), el('dd', {}, idRef(item.application_id)),
          el('dt', {}, '评分'), el('dd', { class: 'mono', dataset: { testid: 'review-points' } }, item.points === null || item.points === undefined ? '—' : String(item.points)),
          el('dt', {}, '模型版本'), el('dd', { class: 'mono' }, item.model_version || '—'),
        ),
        el('h3', { class: 'role-counts__title' }, '申请人陈述'),
        el('p', { class: 'review-item__quote', dataset: { testid: 'review-reason' } }, item.reason || '（未填写）'),
        el('h3', { class: 'role-counts__title' }, '自动审批未通过原因'),
        reasons.length
          ? el('ul', { class: 'review-item__reasons', dataset: { testid: 'review-decline-reasons' } }, reasons.map((r) => el('li', {}, r.reason, ' ', el('span', { class: 'mono' }, r.code))))
          : el('p', { class: 'muted small' }, '无记录。'),
        replayBlock(item),
      ),
      item.state === 'pending'
        ? reviewForm(item, (resolved) => card.replaceWith(reviewItem(resolved)))
        : el(
          'div',
          { class: 'stack stack--s', dataset: { testid: 'review-resolution' } },
          el('p', { class: 'status-line' }, el('span', { class: item.state === 'overturned' ? 'dot dot--ok' : 'dot', 'aria-hidden': 'true' }), `复核结论：${stateText}`),
          item.note ? el('p', { class: 'small' }, `复核意见：${item.note}`) : null,
          item.resolved_at ? el('p', { class: 'small muted' }, `完成时间 ${beijingTime(item.resolved_at)}`) : null,
        ),
    ),
  );
  return card;
}

/** 人工复核视图：首次显示时加载，“刷新”重载。 */
function reviewView(host, countNode, refreshBtn) {
  let started = null;

  async function reload() {
    refreshBtn.disabled = true;
    replace(host, el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), '加载中…'));
    try {
      const { items = [] } = await api('/api/v1/console/loan/reviews');
      const pending = items.filter((i) => i.state === 'pending').length;
      countNode.textContent = `待复核 ${numFmt.format(pending)} 件`;
      replace(
        host,
        items.length
          ? el('div', { class: 'review-list', dataset: { testid: 'review-list' } }, items.map(reviewItem))
          : el('div', { class: 'card' }, el('div', { class: 'empty', dataset: { testid: 'review-empty' } }, '暂无待复核的申请')),
      );
    } catch (err) {
      if (err.redirecting) return;
      countNode.textContent = '';
      if (err.status === 403) replace(host, reviewDenied(err));
      else replace(host, problemBanner(err, { onRetry: () => reload() }));
    } finally {
      refreshBtn.disabled = false;
    }
  }

  refreshBtn.addEventListener('click', () => {
    started = reload();
  });
  return {
    show() {
      if (!started) started = reload();
      return started;
    },
  };
}

// ---------- 刷新 ----------

async function refreshStatus(root) {
  const button = root.querySelector('[data-testid="refresh-status"]');
  button.disabled = true;
  await Promise.all([
    checkHealth(root.querySelector('[data-testid="health-status"]')),
    checkReady(root.querySelector('[data-testid="ready-status"]')),
    loadOverview(root.querySelector('[data-testid="ops-overview"]')),
  ]);
  root.querySelector('[data-testid="last-checked"]').textContent = `最后检查：${timeFmt.format(new Date())}`;
  button.disabled = false;
}

boot(async (me, root) => {
  const audit = auditView(root.querySelector('[data-audit="body"]'));
  const review = reviewView(
    root.querySelector('[data-review="body"]'),
    root.querySelector('[data-testid="review-count"]'),
    root.querySelector('[data-testid="review-refresh"]'),
  );
  const onShow = (name) => {
    if (name === 'audit') return audit.show();
    if (name === 'review') return review.show();
    return undefined;
  };
  const initial = showView(root, { onShow });
  window.addEventListener('hashchange', () => showView(root, { focus: true, onShow }));
  root.querySelector('[data-testid="refresh-status"]').addEventListener('click', () => refreshStatus(root));
  // 等首轮状态检查（以及直接打开 #audit、#review 时的首屏数据）完成再标记 page-ready，测试拿到的就是最终状态
  await Promise.all([refreshStatus(root), initial]);
});
