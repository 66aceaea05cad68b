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
// 智能客服页（#assistant，首次打开时才请求）：知识库条目维护与问题洞察，见文件末尾“智能客服”一节。
// 防爬虫处置页（#antibot，首次打开时才请求）：行为评分的升级处置记录与依据，可见时每 15 秒自动刷新，
// 见“防爬虫处置”一节。
// 供应链融资页（#supply，首次打开时才请求）：核心企业、数据共享协议、批量预授信、经销商与额度、贷后预警、
// 销售回款入账，见“供应链融资”一节。

import { boot } from './shell.js';
import { api, ApiError } from './api.js';
import { el, replace, problemBanner, toast } from './dom.js';

const VIEWS = ['overview', 'review', 'supply', 'assistant', 'antibot', 'audit', 'system'];
// 旧地址与子页：#kb（知识库）、#insights（问题洞察）都在“智能客服”视图里
const VIEW_ALIASES = { kb: 'assistant', insights: 'assistant' };
const CHECK_LABELS = { database: '数据库' };
const TIMEOUT_MS = 8000;

// ---------- 视图切换 ----------

function currentView() {
  const hash = window.location.hash.replace(/^#/, '');
  const name = VIEW_ALIASES[hash] || hash;
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

// ---------- 智能客服：知识库维护与问题洞察 ----------
//
// 知识库：GET/POST/PUT/DELETE /api/v1/console/kb/entries…；保存带上所编辑的版本号，别人先保存了更新的版本时
// 服务端答 409，页面展示其说明并可载入最新版本。问题洞察：GET /api/v1/console/assistant/insights?days=N，
// 未解答问题的聚类可“一键创建 FAQ”：切到知识库并打开预填好的新建表单（问题 = 代表问法，变体 = 例句）。

const KB_PAGE = 50;
const KB_TOPICS = [
  ['', '全部主题'],
  ['hpf', '公积金'],
  ['si', '社保'],
  ['traffic', '交通罚没'],
  ['loan', '闪电贷'],
  ['account', '账户与授权'],
];
const KB_ID_RE = /^[a-z0-9-]{1,64}$/;
const KB_SOURCE_RE = /^[^#\s]+#\d+$/;
const VERSION_ACTIONS = { create: '创建', update: '修改', delete: '删除', import: '导入' };
// 由聚类关键词猜主题（只用于建议条目编号，运营人员可改）
const TOPIC_GUESS = [
  ['hpf', /公积金|租房提取|缴存/],
  ['si', /社保|医保|养老|失业|参保|工伤|生育/],
  ['traffic', /违章|违法|罚款|罚单|驾驶证|驾照|车牌|车辆|记分|交警|交通/],
  ['loan', /贷|借款|还款|利率|额度/],
  ['account', /账户|账号|密码|登录|授权|银行卡|挂失/],
];

function pct(x) {
  return typeof x === 'number' && Number.isFinite(x) ? `${(Math.round(x * 1000) / 10).toFixed(1)}%` : '—';
}

function denied(err, testid, note) {
  return el(
    'section',
    { class: 'card state-panel', role: 'alert', dataset: { testid, code: err.code || '' } },
    el('div', { class: 'state-panel__icon', 'aria-hidden': 'true' }, '!'),
    el('h2', { class: 'state-panel__title' }, '无权访问'),
    el('p', { class: 'state-panel__text' }, err.detail || err.message),
    el('p', { class: 'small muted' }, note),
  );
}

function loadingBlock(text = '加载中…') {
  return el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

function lines(text) {
  return String(text || '').split('\n').map((s) => s.trim()).filter(Boolean);
}

function commaList(text) {
  return String(text || '').split(/[,，、]/).map((s) => s.trim()).filter(Boolean);
}

/** 知识库视图：检索、主题筛选、条目表、编辑器（新建 / 保存 / 删除 / 版本历史）。 */
function kbView(host) {
  let started = null;
  let offset = 0;
  let total = 0;
  let currentId = null;
  let searchTimer = null;

  const search = el('input', { class: 'input', type: 'search', placeholder: '搜索问题、答复、编号', 'aria-label': '搜索知识条目', dataset: { testid: 'kb-search' } });
  const topic = el('select', { class: 'select', 'aria-label': '按主题筛选', dataset: { testid: 'kb-topic' } }, KB_TOPICS.map(([v, t]) => el('option', { value: v }, t)));
  const newBtn = el('button', { class: 'btn btn--primary', type: 'button', dataset: { testid: 'kb-new' } }, '新建条目');
  const count = el('span', { class: 'small muted', dataset: { testid: 'kb-count' } });
  const editorHost = el('div');
  const tbody = el('tbody', {});
  const foot = el('div', { class: 'table-foot' });
  const listHost = el('div');

  const table = el(
    'article',
    { class: 'card', 'aria-label': '知识条目' },
    el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { class: 'data-table kb-table', dataset: { testid: 'kb-table' } },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', { scope: 'col' }, '编号'),
            el('th', { scope: 'col' }, '问题'),
            el('th', { scope: 'col' }, '答复部门'),
            el('th', { scope: 'col' }, '版本'),
            el('th', { scope: 'col' }, '更新（北京时间）'),
            el('th', { scope: 'col' }, el('span', { class: 'visually-hidden' }, '操作')),
          ),
        ),
        tbody,
      ),
    ),
    foot,
  );

  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => reload(), 300);
  });
  search.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      clearTimeout(searchTimer);
      reload();
    }
  });
  topic.addEventListener('change', () => reload());
  newBtn.addEventListener('click', () => openEditor(null, [], {}));

  function query(extra = {}) {
    const p = new URLSearchParams();
    const q = search.value.trim();
    if (q) p.set('q', q);
    if (topic.value) p.set('topic', topic.value);
    for (const [k, v] of Object.entries(extra)) p.set(k, String(v));
    return p.toString();
  }

  function row(e) {
    const edit = el('button', { class: 'btn btn--s', type: 'button', dataset: { testid: 'kb-edit', id: e.id } }, '编辑');
    edit.addEventListener('click', () => openEntry(e.id));
    const variants = (e.variants || []).length;
    return el(
      'tr',
      { class: e.id === currentId ? 'is-current' : '', dataset: { testid: 'kb-row', id: e.id, version: String(e.version ?? '') } },
      el('td', {}, el('span', { class: 'id-ref' }, e.id)),
      el(
        'td',
        { class: 'kb-q' },
        e.question,
        el('span', { class: 'sub' }, [variants ? `${variants} 种问法` : '', e.demo ? '演示内容' : '', (e.tags || []).join('、')].filter(Boolean).join(' · ')),
      ),
      el('td', {}, e.department || el('span', { class: 'muted' }, '—')),
      el('td', { class: 'num' }, e.version === undefined || e.version === null ? '—' : `v${e.version}`),
      el('td', { class: 'num' }, e.updated_at ? beijingTime(e.updated_at) : '—', e.updated_by ? el('span', { class: 'sub' }, e.updated_by) : null),
      el('td', {}, edit),
    );
  }

  function renderFoot() {
    const shown = tbody.querySelectorAll('tr').length;
    count.textContent = `共 ${numFmt.format(total)} 条`;
    if (shown === 0) {
      replace(foot, el('div', { class: 'empty', dataset: { testid: 'kb-empty' } }, search.value.trim() || topic.value ? '没有符合条件的条目' : '知识库还没有条目'));
    } else if (shown < total) {
      const more = el('button', { class: 'btn', type: 'button', dataset: { testid: 'kb-more' } }, `加载更多（已显示 ${shown}/${total}）`);
      more.addEventListener('click', () => loadPage(more));
      replace(foot, more);
    } else {
      replace(foot, el('p', { class: 'small muted' }, `已显示全部 ${numFmt.format(shown)} 条`));
    }
  }

  async function loadPage(button) {
    if (button) button.disabled = true;
    try {
      const r = await api(`/api/v1/console/kb/entries?${query({ offset, limit: KB_PAGE })}`);
      const entries = (r && r.entries) || [];
      total = Number(r && r.total) || 0;
      offset += entries.length;
      tbody.append(...entries.map(row));
      renderFoot();
    } catch (err) {
      if (button) button.disabled = false;
      if (!err.redirecting) replace(foot, problemBanner(err, { onRetry: () => loadPage() }));
    }
  }

  async function reload() {
    offset = 0;
    replace(tbody);
    replace(foot, loadingBlock());
    try {
      const r = await api(`/api/v1/console/kb/entries?${query({ offset: 0, limit: KB_PAGE })}`);
      const entries = (r && r.entries) || [];
      total = Number(r && r.total) || 0;
      offset = entries.length;
      replace(tbody, entries.map(row));
      renderFoot();
      return true;
    } catch (err) {
      if (err.redirecting) return false;
      count.textContent = '';
      if (err.status === 403) replace(listHost, denied(err, 'kb-denied', '知识库仅限银行运营人员与系统管理员维护。'));
      else replace(foot, problemBanner(err, { onRetry: () => reload() }));
      return false;
    }
  }

  function markCurrent() {
    for (const tr of tbody.querySelectorAll('tr')) tr.classList.toggle('is-current', tr.dataset.id === currentId);
  }

  async function openEntry(id) {
    replace(editorHost, el('div', { class: 'card kb-editor' }, loadingBlock('正在载入条目…')));
    try {
      const r = await api(`/api/v1/console/kb/entries/${encodeURIComponent(id)}`);
      openEditor(r.entry, r.versions || [], {});
    } catch (err) {
      if (!err.redirecting) replace(editorHost, el('div', { class: 'card kb-editor' }, problemBanner(err, { onRetry: () => openEntry(id) })));
    }
  }

  function closeEditor() {
    currentId = null;
    markCurrent();
    replace(editorHost);
  }

  /** 编辑器。entry 为 null 时是新建；prefill 为新建时的预填值（来自“一键创建 FAQ”）。 */
  function openEditor(entry, versions, prefill) {
    const isNew = !entry;
    const v = entry || { id: '', question: '', variants: [], answer: '', department: '', tags: [], source: null, effective_from: null, effective_to: null, demo: false, ...prefill };
    currentId = isNew ? null : v.id;
    markCurrent();

    let seq = 0;
    const field = (label, control, hint, wide) => {
      seq += 1;
      const id = `kb-f-${seq}`;
      control.id = id;
      if (hint) control.setAttribute('aria-describedby', `${id}-hint`);
      return el(
        'div',
        { class: wide ? 'field field--wide' : 'field' },
        el('label', { class: 'field__label', for: id }, label),
        control,
        hint ? el('p', { id: `${id}-hint`, class: 'field__hint' }, hint) : null,
      );
    };
    const f = {
      id: el('input', { class: 'input mono', value: v.id || '', readonly: !isNew, autocomplete: 'off', spellcheck: 'false', placeholder: '如 hpf-051', dataset: { testid: 'kb-field-id' } }),
      question: el('input', { class: 'input', value: v.question || '', maxlength: '200', dataset: { testid: 'kb-field-question' } }),
      variants: el('textarea', { class: 'textarea', rows: '4', dataset: { testid: 'kb-field-variants' } }),
      answer: el('textarea', { class: 'textarea textarea--answer', maxlength: '4000', dataset: { testid: 'kb-field-answer' } }),
      department: el('input', { class: 'input', value: v.department || '', dataset: { testid: 'kb-field-department' } }),
      tags: el('input', { class: 'input', value: (v.tags || []).join('，'), dataset: { testid: 'kb-field-tags' } }),
      source: el('input', { class: 'input mono', value: v.source || '', placeholder: 'hpf-withdrawal#3', spellcheck: 'false', dataset: { testid: 'kb-field-source' } }),
      from: el('input', { class: 'input', type: 'date', value: v.effective_from || '', dataset: { testid: 'kb-field-from' } }),
      to: el('input', { class: 'input', type: 'date', value: v.effective_to || '', dataset: { testid: 'kb-field-to' } }),
      demo: el('input', { type: 'checkbox', checked: Boolean(v.demo), dataset: { testid: 'kb-field-demo' } }),
    };
    f.variants.value = (v.variants || []).join('\n');
    f.answer.value = v.answer || '';

    const problem = el('div', { class: 'kb-form__problem' });
    const save = el('button', { class: 'btn btn--primary', type: 'submit', dataset: { testid: 'kb-save' } }, isNew ? '创建条目' : `保存（基于 v${v.version}）`);
    const cancel = el('button', { class: 'btn', type: 'button', dataset: { testid: 'kb-cancel' } }, '取消');
    cancel.addEventListener('click', closeEditor);
    const confirmHost = el('span', { class: 'cluster' });
    const del = isNew ? null : el('button', { class: 'btn btn--danger', type: 'button', dataset: { testid: 'kb-delete' } }, '删除');

    const form = el(
      'form',
      { class: 'kb-form', novalidate: true, 'aria-label': isNew ? '新建知识条目' : `编辑 ${v.id}` },
      field('编号', f.id, isNew ? '小写字母、数字和“-”，以主题开头，创建后不能修改。' : '编号不能修改。'),
      field('标准问题', f.question),
      field('其他问法（每行一个）', f.variants, '市民常见的其他说法，帮助匹配。', true),
      field('答复', f.answer, '换行会原样展示给市民。', true),
      field('答复部门', f.department),
      field('标签（逗号分隔）', f.tags),
      field('政策依据', f.source, '格式：文件编号#条号，如 hpf-withdrawal#3；可留空。'),
      el(
        'div',
        { class: 'field' },
        el('span', { class: 'field__label' }, '内容性质'),
        el('label', { class: 'kb-form__check' }, f.demo, '演示内容（市民端显示“演示内容”标记）'),
      ),
      field('生效日期', f.from, '留空表示立即生效。'),
      field('失效日期', f.to, '留空表示长期有效。'),
      problem,
      el('div', { class: 'kb-form__actions' }, save, cancel, del, confirmHost),
    );

    function complain(message, focus) {
      replace(problem, problemBanner({ detail: message, code: 'client.invalid' }, { variant: 'warn' }));
      if (focus) focus.focus();
    }

    function collect() {
      const body = {
        id: f.id.value.trim(),
        question: f.question.value.trim(),
        variants: lines(f.variants.value),
        answer: f.answer.value.replace(/\r\n/g, '\n').trim(),
        department: f.department.value.trim(),
        tags: commaList(f.tags.value),
        source: f.source.value.trim() || null,
        effective_from: f.from.value || null,
        effective_to: f.to.value || null,
        demo: f.demo.checked,
      };
      if (!KB_ID_RE.test(body.id)) return complain('编号须为 1–64 位小写字母、数字或“-”。', f.id);
      if (!body.question) return complain('请填写标准问题。', f.question);
      if (!body.answer) return complain('请填写答复。', f.answer);
      if (body.source && !KB_SOURCE_RE.test(body.source)) return complain('政策依据格式应为“文件编号#条号”，如 hpf-withdrawal#3。', f.source);
      if (body.effective_from && body.effective_to && body.effective_to < body.effective_from) return complain('失效日期不能早于生效日期。', f.to);
      if (!isNew) body.version = v.version;
      return body;
    }

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = collect();
      if (!body) return;
      save.disabled = true;
      replace(problem);
      try {
        const saved = isNew
          ? await api('/api/v1/console/kb/entries', { method: 'POST', body })
          : await api(`/api/v1/console/kb/entries/${encodeURIComponent(v.id)}`, { method: 'PUT', body });
        toast(isNew ? `已创建 ${saved.id}` : `已保存 ${saved.id}（v${saved.version}）`);
        await reload();
        await openEntry(saved.id || body.id);
      } catch (err) {
        save.disabled = false;
        if (err.redirecting) return;
        if (err.status === 409 && !isNew) {
          const latest = el('button', { class: 'btn btn--s', type: 'button', dataset: { testid: 'kb-reload-latest' } }, '载入最新版本（放弃本次修改）');
          latest.addEventListener('click', () => openEntry(v.id));
          replace(problem, el('div', { class: 'stack stack--s', dataset: { testid: 'kb-conflict' } }, problemBanner(err, { variant: 'warn' }), el('div', {}, latest)));
        } else {
          replace(problem, problemBanner(err));
        }
      }
    });

    if (del) {
      del.addEventListener('click', () => {
        del.hidden = true;
        const yes = el('button', { class: 'btn btn--danger', type: 'button', dataset: { testid: 'kb-delete-confirm' } }, `确认删除 ${v.id}`);
        const no = el('button', { class: 'btn btn--ghost', type: 'button' }, '不删除');
        no.addEventListener('click', () => {
          replace(confirmHost);
          del.hidden = false;
          del.focus();
        });
        yes.addEventListener('click', async () => {
          yes.disabled = true;
          try {
            await api(`/api/v1/console/kb/entries/${encodeURIComponent(v.id)}?version=${encodeURIComponent(v.version)}`, { method: 'DELETE' });
            toast(`已删除 ${v.id}`);
            closeEditor();
            await reload();
          } catch (err) {
            yes.disabled = false;
            if (!err.redirecting) replace(problem, problemBanner(err, { variant: err.status === 409 ? 'warn' : undefined }));
          }
        });
        replace(confirmHost, el('span', { class: 'small', role: 'alert' }, '删除后市民将无法再看到这条答复。'), yes, no);
        no.focus();
      });
    }

    const history = isNew
      ? null
      : el(
        'details',
        { class: 'kb-history', dataset: { testid: 'kb-versions' } },
        el('summary', {}, `版本历史（${versions.length}）`),
        versions.length
          ? el(
            'ul',
            { class: 'kb-versions' },
            versions.map((h) =>
              el(
                'li',
                { dataset: { testid: 'kb-version', version: String(h.version) } },
                el('strong', {}, `v${h.version}`),
                el('span', {}, VERSION_ACTIONS[h.action] || h.action || ''),
                el('span', { class: 'muted' }, beijingTime(h.changed_at)),
                el('span', { class: 'muted' }, h.changed_by || ''),
              ),
            ),
          )
          : el('p', { class: 'small muted' }, '暂无记录。'),
      );

    const meta = isNew
      ? el('p', { class: 'small muted' }, '新建条目保存后立即生效（在生效日期范围内）。')
      : el('p', { class: 'small muted' }, `当前 v${v.version} · ${v.updated_at ? `${beijingTime(v.updated_at)} 更新` : ''}${v.updated_by ? ` · ${v.updated_by}` : ''}`);
    const card = el(
      'article',
      { class: 'card kb-editor', dataset: { testid: 'kb-editor', id: v.id || '', mode: isNew ? 'create' : 'edit' } },
      el('div', { class: 'card__header' }, el('h2', { class: 'card__title', tabindex: '-1' }, isNew ? '新建知识条目' : `编辑 ${v.id}`), meta),
      el('div', { class: 'stack' }, form, history),
    );
    replace(editorHost, card);
    card.scrollIntoView({ block: 'start', behavior: 'smooth' });
    (isNew && !v.id ? f.id : f.question).focus({ preventScroll: true });
  }

  /** 为主题建议下一个编号：取该主题现有最大序号 +1。 */
  async function suggestId(t) {
    if (!t) return '';
    try {
      const r = await api(`/api/v1/console/kb/entries?topic=${encodeURIComponent(t)}&limit=500`);
      const re = new RegExp(`^${t}-(\\d+)$`);
      let max = 0;
      for (const e of (r && r.entries) || []) {
        const m = re.exec(e.id);
        if (m) max = Math.max(max, Number(m[1]));
      }
      return `${t}-${String(max + 1).padStart(3, '0')}`;
    } catch {
      return `${t}-`;
    }
  }

  function renderShell() {
    replace(
      host,
      el(
        'div',
        { class: 'stack' },
        el('div', { class: 'kb-toolbar' }, search, topic, newBtn, count),
        editorHost,
        listHost,
      ),
    );
    replace(listHost, table);
  }

  return {
    show() {
      if (!started) {
        renderShell();
        started = reload();
      }
      return started;
    },
    /** 由“一键创建 FAQ”调用：打开预填的新建表单。 */
    async createFrom(cluster) {
      this.show();
      const text = [cluster.representative, ...(cluster.keywords || [])].join(' ');
      const guess = (TOPIC_GUESS.find(([, re]) => re.test(text)) || [''])[0];
      const examples = (cluster.examples || []).filter((x) => x && x !== cluster.representative);
      const prefill = {
        id: await suggestId(guess),
        question: cluster.representative || '',
        variants: [...new Set(examples)],
        tags: (cluster.keywords || []).slice(0, 5),
      };
      openEditor(null, [], prefill);
    },
  };
}

/** 问题洞察视图：统计周期、各项比率、热点话题、未解答问题聚类。 */
function insightsView(host, onCreateFaq) {
  let started = null;
  let days = 7;
  const dayBtns = [1, 7, 30].map((d) =>
    el('button', { class: 'seg__btn', type: 'button', 'aria-pressed': String(d === days), dataset: { days: String(d), testid: 'insights-days' } }, d === 1 ? '近 1 天' : `近 ${d} 天`),
  );
  const period = el('span', { class: 'small muted', dataset: { testid: 'insights-period' } });
  const body = el('div', { 'aria-live': 'polite' });
  for (const b of dayBtns) {
    b.addEventListener('click', () => {
      days = Number(b.dataset.days);
      for (const x of dayBtns) x.setAttribute('aria-pressed', String(x === b));
      started = load();
    });
  }

  function topicItem(t, i) {
    const prev = Number(t.previous) || 0;
    const diff = (Number(t.count) || 0) - prev;
    let cls = '';
    let text = '持平';
    let label = '与上一周期持平';
    if (!prev && t.count) {
      cls = 'is-up';
      text = '新上榜';
      label = '上一周期没有出现';
    } else if (diff > 0) {
      cls = 'is-up';
      text = `↑ ${numFmt.format(diff)}`;
      label = `较上一周期增加 ${diff} 次`;
    } else if (diff < 0) {
      cls = 'is-down';
      text = `↓ ${numFmt.format(-diff)}`;
      label = `较上一周期减少 ${-diff} 次`;
    }
    return el(
      'li',
      { class: 'topic-item', dataset: { testid: 'insights-topic', keyword: t.keyword, count: String(t.count), previous: String(prev) } },
      el('span', { class: 'topic-item__rank' }, String(i + 1)),
      el('span', { class: 'topic-item__kw' }, t.keyword),
      el('span', { class: 'topic-item__count' }, `${numFmt.format(t.count)} 次`),
      el('span', { class: `topic-item__delta ${cls}`, title: label }, el('span', { 'aria-hidden': 'true' }, text), el('span', { class: 'visually-hidden' }, label)),
    );
  }

  function clusterCard(c) {
    const btn = el('button', { class: 'btn btn--primary btn--s', type: 'button', dataset: { testid: 'insights-create-faq' } }, '一键创建 FAQ');
    btn.addEventListener('click', () => onCreateFaq(c));
    const examples = (c.examples || []).slice(0, 5);
    return el(
      'div',
      { class: 'cluster-card', dataset: { testid: 'insights-cluster', size: String(c.size) } },
      el(
        'div',
        { class: 'cluster-card__head' },
        el('span', { class: 'cluster-card__rep' }, c.representative),
        el('span', { class: 'badge badge--warn nowrap' }, `${numFmt.format(c.size)} 次提问`),
      ),
      (c.keywords || []).length ? el('div', { class: 'cluster' }, c.keywords.map((k) => el('span', { class: 'badge' }, k))) : null,
      examples.length ? el('ul', { class: 'cluster-card__examples', 'aria-label': '市民原话' }, examples.map((x) => el('li', {}, x))) : null,
      el('div', {}, btn),
    );
  }

  function render(r) {
    const rates = r.rates || {};
    const sat = typeof rates.satisfaction === 'number' ? `${rates.satisfaction.toFixed(1)} / 5` : '—';
    period.textContent = r.from && r.to ? `${beijingTime(r.from)} 至 ${beijingTime(r.to)}（北京时间）` : '';
    const topics = r.hot_topics || [];
    const clusters = r.unanswered || [];
    replace(
      body,
      el(
        'div',
        { class: 'stat-row', dataset: { testid: 'insights-rates' } },
        stat('insights-turns', '对话轮次', fmtCount(r.turns), `近 ${days} 天`),
        stat('insights-answered', '直接解答', pct(rates.answered)),
        stat('insights-clarified', '澄清追问', pct(rates.clarified)),
        stat('insights-handed-off', '转人工', pct(rates.handed_off)),
        stat('insights-resolution', '解决率', pct(rates.resolution_rate)),
        stat('insights-helpful', '有帮助率', pct(rates.helpful_rate), rates.helpful_rate === null || rates.helpful_rate === undefined ? '暂无评价' : '按“有帮助 / 没帮助”评价计'),
        stat('insights-satisfaction', '满意度', sat, `回访问卷 ${fmtCount(rates.surveys ?? 0)} 份 · 发出回访 ${fmtCount(rates.followups_sent ?? 0)} 次`),
      ),
      el(
        'div',
        { class: 'insights-grid' },
        el(
          'article',
          { class: 'card', 'aria-labelledby': 'c-hot' },
          el('div', { class: 'card__header' }, el('h2', { id: 'c-hot', class: 'card__title' }, '热点话题'), el('span', { class: 'small muted' }, '与上一周期对比')),
          topics.length ? el('ol', { class: 'topic-list' }, topics.map(topicItem)) : el('div', { class: 'empty' }, '本周期暂无提问'),
        ),
        el(
          'article',
          { class: 'card', 'aria-labelledby': 'c-unanswered' },
          el('div', { class: 'card__header' }, el('h2', { id: 'c-unanswered', class: 'card__title' }, '未解答的问题'), el('span', { class: 'small muted' }, '相似问法已聚类，可据此补充知识条目')),
          clusters.length ? el('div', { class: 'cluster-list' }, clusters.map(clusterCard)) : el('div', { class: 'empty', dataset: { testid: 'insights-no-clusters' } }, '本周期没有未解答的问题'),
        ),
      ),
    );
  }

  async function load() {
    replace(body, loadingBlock());
    try {
      render((await api(`/api/v1/console/assistant/insights?days=${days}`)) || {});
    } catch (err) {
      if (err.redirecting) return;
      period.textContent = '';
      if (err.status === 403) replace(body, denied(err, 'insights-denied', '问题洞察仅限银行运营人员与系统管理员查看。'));
      else replace(body, problemBanner(err, { onRetry: () => load() }));
    }
  }

  replace(host, el('div', { class: 'insights-head' }, el('div', { class: 'seg', role: 'group', 'aria-label': '统计周期' }, dayBtns), period), body);

  return {
    show() {
      if (!started) started = load();
      return started;
    },
  };
}

/** 智能客服视图：两个标签页（知识库 / 问题洞察），地址 #assistant、#kb、#insights。 */
function assistantView(section) {
  const tabs = [...section.querySelectorAll('[data-as-tab]')];
  const panels = Object.fromEntries([...section.querySelectorAll('[data-as-panel]')].map((p) => [p.dataset.asPanel, p]));
  const kb = kbView(panels.kb);
  const insights = insightsView(panels.insights, (cluster) => {
    select('kb');
    kb.createFrom(cluster);
  });
  let current = 'kb';

  function select(name, { focus = false } = {}) {
    current = name;
    for (const t of tabs) {
      const on = t.dataset.asTab === name;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      if (on && focus) t.focus();
    }
    for (const [k, p] of Object.entries(panels)) p.hidden = k !== name;
    return name === 'kb' ? kb.show() : insights.show();
  }

  for (const t of tabs) {
    t.addEventListener('click', () => select(t.dataset.asTab));
    t.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      const i = tabs.indexOf(t);
      const next = tabs[(i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
      select(next.dataset.asTab, { focus: true });
      e.preventDefault();
    });
  }

  return {
    show(hash) {
      return select(hash === 'insights' ? 'insights' : hash === 'kb' ? 'kb' : current);
    },
  };
}

// ---------- 防爬虫处置 ----------
//
// GET /api/v1/console/guard/escalations?limit=N[&level=slow|challenge|block]：行为评分把某个会话、设备或
// 地址的处置级别升高（限速 → 人机校验 → 封禁）时记下的一条条记录，最新的在前；另有近 24 小时各级别的次数
// 与当前的防护配置。访问对象只给化名（12 位十六进制），页面原样显示。视图可见时每 15 秒自动刷新一次，
// 切到别的视图或浏览器标签页转到后台即停；自动刷新失败时保留已显示的记录并提示。

const ANTIBOT_LIMIT = 50;
const ANTIBOT_REFRESH_MS = 15000;
const LEVELS = {
  normal: ['正常', 'badge'],
  slow: ['限速', 'badge badge--info'],
  challenge: ['人机校验', 'badge badge--warn'],
  block: ['封禁', 'badge badge--danger'],
};
const ESCALATED_LEVELS = ['slow', 'challenge', 'block'];
const SIGNALS = {
  enumeration: '号码枚举',
  breadth: '查询对象过多',
  regular_timing: '机器般规律的请求间隔',
  error_ratio: '错误率过高',
  automation: '自动化工具特征',
};
const SUBJECT_KINDS = { session: '会话', device: '设备', ip: 'IP 地址' };
const ENDPOINT_CLASSES = { login: '登录', query: '查询', pay: '缴费', public: '公共接口' };
const LIMIT_MODES = { redis: 'Redis（多实例共享）', local: '本机内存（仅本实例）', off: '关闭' };
const SIGNATURE_MODES = { required: '强制', optional: '可选（有签名则校验）', off: '关闭' };

function levelBadge(level) {
  const [text, cls] = LEVELS[level] || [level || '—', 'badge'];
  return el('span', { class: cls, dataset: { level: level || '' } }, text);
}

/** “限流存储：Redis（多实例共享）· 行为评分：开启 · 请求签名：强制”；未开启的一项标成警示色。 */
function guardSettings(r) {
  const part = (label, text, off) =>
    el('span', { class: 'antibot-setting' }, `${label}：`, el('strong', { class: off ? 'antibot-setting__off' : null }, text));
  const dot = () => el('span', { class: 'muted', 'aria-hidden': 'true' }, ' · ');
  return el(
    'p',
    { class: 'antibot-settings small', dataset: { testid: 'antibot-settings', mode: r.mode || '', behaviour: String(Boolean(r.behaviour)), signatures: r.signatures || '' } },
    part('限流存储', LIMIT_MODES[r.mode] || r.mode || '未知', r.mode === 'off'),
    dot(),
    part('行为评分', r.behaviour ? '开启' : '关闭', !r.behaviour),
    dot(),
    part('请求签名', SIGNATURE_MODES[r.signatures] || r.signatures || '未知', r.signatures === 'off'),
  );
}

function evidenceList(evidence) {
  if (!evidence || evidence.length === 0) return el('span', { class: 'muted' }, '—');
  return el(
    'ul',
    { class: 'evidence-list' },
    evidence.map((e) =>
      el(
        'li',
        { dataset: { testid: 'antibot-evidence', signal: e.signal } },
        el('span', { class: 'evidence-list__signal', title: e.signal }, SIGNALS[e.signal] || e.signal),
        el('span', { class: 'evidence-list__points' }, ` +${Number(e.points) || 0}`),
        e.detail ? `：${e.detail}` : null,
      ),
    ),
  );
}

/** 北京时间；样式表只在窄屏时允许它在日期与时刻之间（空格处）折行。 */
function timeAt(iso) {
  return el('time', { datetime: iso }, beijingTime(iso));
}

/** 路由模板只在“/”后折行，不把一个词拆成两半。 */
function routePath(path) {
  return String(path).split('/').flatMap((part, i) => (i === 0 ? [part] : [el('wbr'), `/${part}`]));
}

function escalationRow(x) {
  return el(
    'tr',
    { dataset: { testid: 'antibot-row', id: x.id, level: x.to, subjectKind: x.subject_kind } },
    el('td', { class: 'antibot-time' }, timeAt(x.at)),
    el(
      'td',
      {},
      el('span', {}, SUBJECT_KINDS[x.subject_kind] || x.subject_kind || '—'),
      el('span', { class: 'sub mono', title: '化名，非原始标识' }, x.subject || '—'),
    ),
    el(
      'td',
      { dataset: { testid: 'antibot-change' } },
      el(
        'span',
        { class: 'nowrap' },
        levelBadge(x.from),
        el('span', { class: 'level-arrow', 'aria-hidden': 'true' }, '→'),
        el('span', { class: 'visually-hidden' }, '升至'),
        levelBadge(x.to),
      ),
      x.until ? el('span', { class: 'sub antibot-until', dataset: { testid: 'antibot-until' } }, '持续至 ', timeAt(x.until)) : null,
    ),
    el('td', { class: 'num', dataset: { testid: 'antibot-score' } }, x.score === null || x.score === undefined ? '—' : String(x.score)),
    el(
      'td',
      {},
      el('span', {}, ENDPOINT_CLASSES[x.class] || x.class || '—'),
      x.path ? el('span', { class: 'sub mono' }, routePath(x.path)) : null,
    ),
    el('td', {}, evidenceList(x.evidence)),
  );
}

/** 防爬虫处置视图：首次显示时加载；级别筛选、“刷新”与可见时的定时刷新都在原处更新。 */
function antibotView(host) {
  let started = null;
  let level = '';
  let visible = false;
  let timer = null;
  let seq = 0; // 只采用最近一次请求的结果：筛选连点时，慢的旧应答不能盖住新的
  let shown = false; // 是否已有一次成功的结果在页面上

  const settings = el('div');
  const counters = el('div', { class: 'stat-row antibot-counters', dataset: { testid: 'antibot-counts' } });
  const since = el('p', { class: 'small muted', dataset: { testid: 'antibot-since' } });
  const filterBtns = [['', '全部'], ...ESCALATED_LEVELS.map((l) => [l, LEVELS[l][0]])].map(([value, text]) =>
    el('button', { class: 'seg__btn', type: 'button', 'aria-pressed': String(value === level), dataset: { testid: 'antibot-filter', level: value } }, text),
  );
  const updatedNode = el('span', { class: 'small muted', dataset: { testid: 'antibot-updated' } });
  const refreshBtn = el('button', { class: 'btn btn--s', type: 'button', dataset: { testid: 'antibot-refresh' } }, '刷新');
  const summary = el('div', { class: 'stack', hidden: true }, settings, el('div', { class: 'stack stack--s' }, counters, since));
  const problem = el('div');
  const listHost = el('div', { 'aria-live': 'polite' });

  for (const b of filterBtns) {
    b.addEventListener('click', () => {
      level = b.dataset.level;
      for (const x of filterBtns) x.setAttribute('aria-pressed', String(x === b));
      replace(listHost, loadingBlock());
      started = load();
    });
  }

  function counter(l, counts) {
    const [text] = LEVELS[l];
    const n = counts ? counts[l] : undefined;
    return el(
      'div',
      { class: `stat stat--${l}`, dataset: { testid: `antibot-count-${l}` } },
      el('span', { class: 'stat__label' }, text),
      el('span', { class: 'stat__value' }, fmtCount(n)),
      el('span', { class: 'stat__hint' }, '近 24 小时升至此级别的次数'),
    );
  }

  function table(items) {
    return el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { class: 'data-table antibot-table', dataset: { testid: 'antibot-table' } },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            el('th', { scope: 'col' }, '时间（北京时间）'),
            el('th', { scope: 'col' }, '访问对象'),
            el('th', { scope: 'col' }, '处置'),
            el('th', { scope: 'col' }, '评分'),
            el('th', { scope: 'col' }, '接口'),
            el('th', { scope: 'col' }, '依据'),
          ),
        ),
        el('tbody', {}, items.map(escalationRow)),
      ),
    );
  }

  function render(r) {
    const items = r.items || [];
    if (!host.contains(listHost)) renderShell(); // 此前显示的是“无权访问”
    summary.hidden = false;
    replace(settings, guardSettings(r));
    replace(counters, ESCALATED_LEVELS.map((l) => counter(l, r.counts)));
    since.textContent = r.since ? `统计自 ${beijingTime(r.since)}（北京时间）起的 24 小时。` : '';
    const filtered = level ? `近期没有升至“${LEVELS[level][0]}”的访问。` : '近期没有触发处置的访问。';
    replace(
      listHost,
      el(
        'article',
        { class: 'card', 'aria-label': '处置记录' },
        el(
          'div',
          { class: 'card__header' },
          el('h2', { class: 'card__title' }, '处置记录'),
          el('span', { class: 'small muted', dataset: { testid: 'antibot-shown' } }, items.length ? `最近 ${numFmt.format(items.length)} 条` : ''),
        ),
        items.length ? table(items) : el('div', { class: 'empty', dataset: { testid: 'antibot-empty' } }, filtered),
      ),
    );
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (visible && !document.hidden) timer = setTimeout(() => load({ background: true }), ANTIBOT_REFRESH_MS);
  }

  async function load({ background = false } = {}) {
    const mine = ++seq;
    refreshBtn.disabled = true;
    const query = new URLSearchParams({ limit: String(ANTIBOT_LIMIT) });
    if (level) query.set('level', level);
    try {
      const r = (await api(`/api/v1/console/guard/escalations?${query}`)) || {};
      if (mine !== seq) return;
      replace(problem);
      render(r);
      shown = true;
      updatedNode.textContent = `最后更新：${timeFmt.format(new Date())}`;
    } catch (err) {
      if (mine !== seq || err.redirecting) return;
      if (err.status === 403) {
        shown = false;
        updatedNode.textContent = '';
        replace(host, denied(err, 'antibot-denied', '防爬虫处置记录仅限银行运营人员、审计人员与系统管理员查看。'));
        visible = false; // 无权查看时不再定时重试
        return;
      }
      if (background && shown) {
        replace(problem, problemBanner({ ...err, detail: `自动刷新失败，下表为此前的结果：${err.detail || err.message}` }, { variant: 'warn' }));
      } else {
        replace(problem);
        replace(listHost, problemBanner(err, { onRetry: () => { started = load(); } }));
      }
    } finally {
      if (mine === seq) {
        refreshBtn.disabled = false;
        schedule();
      }
    }
  }

  function renderShell() {
    replace(
      host,
      el(
        'div',
        { class: 'stack' },
        summary,
        el(
          'div',
          { class: 'cluster cluster--between' },
          el('div', { class: 'seg', role: 'group', 'aria-label': '按处置级别筛选' }, filterBtns),
          el('div', { class: 'cluster' }, updatedNode, refreshBtn),
        ),
        problem,
        listHost,
      ),
    );
    replace(listHost, loadingBlock());
  }

  refreshBtn.addEventListener('click', () => {
    started = load();
  });
  document.addEventListener('visibilitychange', () => {
    if (!visible) return;
    if (document.hidden) schedule();
    else started = load({ background: true });
  });

  return {
    show() {
      visible = true;
      if (!started) {
        renderShell();
        started = load();
      } else if (!timer) {
        started = load({ background: true });
      }
      return started;
    },
    hide() {
      visible = false;
      clearTimeout(timer);
      timer = null;
    },
  };
}

// ---------- 供应链融资 ----------
//
// GET /api/v1/console/supply/enterprises：已准入的核心企业，各自的数据共享协议、汇总数字与最近一次批量预授信；
// 列表为空时显示准入表单（POST 同一地址）。GET …/enterprises/{id}?view=&q=&page=&per_page=：一家核心企业的
// 经销商（筛选、搜索、分页）与最近的贷后预警。「批量预授信」POST …/{id}/preapprovals（BatchSummary），
// 「运行贷后预警」POST …/{id}/monitoring（MonitorSummary），「销售回款入账」POST /api/v1/console/supply/receipts
// （模拟本行支付系统的到账通知，按经销商设定的比例自动还款；同一流水号只入账一次）。
// 审计人员只读：不显示操作按钮与表单（服务端同样拒绝）。

const SUPPLY_PER_PAGE = 20;
const SUPPLY_FILTERS = [
  ['all', '全部'],
  ['offered', '已预授信'],
  ['declined', '未通过'],
  ['lines', '已开通额度'],
  ['warned', '预警（调减/冻结）'],
];
/** 演示中的核心企业：准入表单的默认值（企业系统编号即模拟器中 A集团的子系统）。 */
const DEMO_ENTERPRISE = { name: 'A集团', uscc: '91510100MA62Q8TY3B', institution: 'inst-agroup', subsystem: 'CN-CD/COM/a-group/distribution' };
const CORE_INSTITUTIONS = [['inst-agroup', 'A集团（核心企业）']];
const USCC_RE = /^[0-9A-HJ-NP-RTUW-Y]{2}\d{6}[0-9A-HJ-NP-RTUW-Y]{10}$/;
const AGREEMENT_BADGE = { active: 'badge badge--ok', expired: 'badge badge--warn', revoked: 'badge badge--danger' };
const SCF_LINE_BADGE = {
  active: 'badge badge--ok',
  lowered: 'badge badge--warn',
  frozen: 'badge badge--danger',
  expired: 'badge badge--warn',
  closed: 'badge',
};
const TIER_LABELS = { first: '一级经销商', second: '二级经销商' };
const DIST_STATUS = {
  active: ['正常合作', 'badge badge--ok'],
  watch: ['重点关注', 'badge badge--warn'],
  suspended: ['暂停供货', 'badge badge--danger'],
};
const OFFER_STATES = { open: '待经销商接受', accepted: '已接受', refused: '负责人核查未通过' };
const SIGNAL_SEVERITY = {
  watch: ['关注', 'badge badge--info'],
  lower: ['调减', 'badge badge--warn'],
  freeze: ['冻结', 'badge badge--danger'],
};

/** 协议的最后一天（北京时间）：expires_at 是最后一天结束的时刻（次日 0 点），往前 1 毫秒取日期。 */
function lastDayText(iso) {
  const t = new Date(iso).getTime();
  return Number.isNaN(t) ? String(iso || '—') : beijingTime(new Date(t - 1).toISOString()).slice(0, 10);
}

/** '2026-11' → '2026年11月'。 */
function monthText(value) {
  const [y, m] = String(value || '').split('-');
  return y && m ? `${y}年${Number(m)}月` : String(value || '—');
}

function fmtMs(n) {
  return `${fmtCount(Number(n))} 毫秒`;
}

/** 支付系统流水号（演示）：RCPT-年月日时分秒-4 位随机。 */
function receiptReference() {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date())
      .map((x) => [x.type, x.value]),
  );
  const rand = Array.from(crypto.getRandomValues(new Uint8Array(2)), (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
  return `RCPT-${p.year}${p.month}${p.day}${p.hour}${p.minute}${p.second}-${rand}`;
}

function scfStat(testid, label, value, hint, tone) {
  return el(
    'div',
    { class: tone ? `stat stat--${tone}` : 'stat', dataset: { testid } },
    el('span', { class: 'stat__label' }, label),
    el('span', { class: 'stat__value' }, value),
    hint ? el('span', { class: 'stat__hint' }, hint) : null,
  );
}

function supplySummary(s) {
  return el(
    'div',
    { class: 'stat-row scf-stats', dataset: { testid: 'supply-summary' } },
    scfStat('supply-stat-distributors', '经销商', fmtCount(s.distributors), '核心企业名录中的全部经销商'),
    scfStat('supply-stat-offered', '已预授信', fmtCount(s.offered), `额度合计 ¥${yuan(s.offered_limit)}`),
    scfStat('supply-stat-declined', '预授信未通过', fmtCount(s.declined)),
    scfStat('supply-stat-lines', '已开通额度', fmtCount(s.lines), `额度合计 ¥${yuan(s.line_limit)}`),
    scfStat('supply-stat-outstanding', '贷款余额（元）', yuan(s.outstanding)),
    scfStat('supply-stat-paid', '受托支付至核心企业（元）', yuan(s.paid_to_enterprise)),
    scfStat('supply-stat-lowered', '已调减', fmtCount(s.lowered), '贷后预警调减额度', s.lowered ? 'warn' : null),
    scfStat('supply-stat-frozen', '已冻结', fmtCount(s.frozen), '贷后预警冻结额度', s.frozen ? 'danger' : null),
  );
}

function batchBlock(b) {
  if (!b) return el('p', { class: 'scf-batch small muted', dataset: { testid: 'supply-last-batch', state: 'none' } }, '尚未进行批量预授信。');
  const total = (Number(b.fetch_ms) || 0) + (Number(b.compute_ms) || 0) + (Number(b.store_ms) || 0);
  return el(
    'div',
    { class: 'scf-batch', dataset: { testid: 'supply-last-batch', id: b.id } },
    el('h3', { class: 'scf-batch__title' }, '最近一次批量预授信'),
    el(
      'dl',
      { class: 'kv small' },
      el('dt', {}, '批次'), el('dd', {}, idRef(b.id)),
      el('dt', {}, '策略版本'), el('dd', { class: 'mono' }, b.policy_version),
      el('dt', {}, '数据账期'), el('dd', {}, `${monthText(b.closed_month)}（核心企业最近已结账月份）`),
      el('dt', {}, '结果'),
      el(
        'dd',
        { dataset: { testid: 'supply-batch-figures' } },
        `评估 ${fmtCount(b.distributors)} 户：预授信 ${fmtCount(b.offered)} 户，合计 ¥${yuan(b.total_limit)}；未通过 ${fmtCount(b.declined)} 户`,
      ),
      el('dt', {}, '用时'),
      el(
        'dd',
        { class: 'scf-timings', dataset: { testid: 'supply-batch-timings' } },
        el('span', {}, '获取 ', el('strong', {}, fmtMs(b.fetch_ms))),
        el('span', {}, '计算 ', el('strong', {}, fmtMs(b.compute_ms))),
        el('span', {}, '写入 ', el('strong', {}, fmtMs(b.store_ms))),
        el('span', { class: 'muted' }, `合计 ${fmtMs(total)}`),
      ),
      el('dt', {}, '时间'), el('dd', { class: 'num' }, `${beijingTime(b.started_at)} → ${beijingTime(b.finished_at)}`),
    ),
  );
}

function agreementFacts(a) {
  if (!a) {
    return [el('dt', {}, '数据共享协议'), el('dd', { dataset: { testid: 'supply-agreement', state: 'none' } }, el('span', { class: 'badge badge--warn' }, '未签署'))];
  }
  return [
    el('dt', {}, '数据共享协议'),
    el(
      'dd',
      { dataset: { testid: 'supply-agreement', state: a.state } },
      el('span', { class: AGREEMENT_BADGE[a.state] || 'badge' }, a.state_text),
      ` ${beijingTime(a.granted_at)} 签署 · 有效期至 ${lastDayText(a.expires_at)}（含当日）`,
      a.revoked_at ? ` · ${beijingTime(a.revoked_at)} 撤回` : '',
    ),
    el('dt', {}, '用途'), el('dd', {}, a.purpose),
    el('dt', {}, '授权范围'),
    el('dd', {}, el('ul', { class: 'scf-scope' }, (a.scope || []).map((x) => el('li', { dataset: { code: x.code } }, x.label, ' ', el('span', { class: 'mono' }, x.code))))),
  ];
}

function offerCell(d) {
  if (d.outcome === 'offered') {
    return [
      el('span', { class: 'badge badge--ok' }, '已预授信'),
      el('span', { class: 'sub num' }, `¥${yuan(d.offer_limit)}${d.grade ? ` · ${d.grade} 级` : ''}`),
      d.offer_state ? el('span', { class: 'sub' }, OFFER_STATES[d.offer_state] || d.offer_state) : null,
    ];
  }
  if (d.outcome === 'declined') {
    return [
      el('span', { class: 'badge' }, '未通过'),
      d.reasons && d.reasons.length ? el('ul', { class: 'reasons' }, d.reasons.map((r) => el('li', {}, r))) : null,
    ];
  }
  return el('span', { class: 'muted' }, '未评估');
}

function lineCell(l) {
  if (!l) return el('span', { class: 'muted' }, '—');
  return [
    el('span', { class: SCF_LINE_BADGE[l.status] || 'badge', dataset: { testid: 'supply-row-line', status: l.status } }, l.status_text),
    el('span', { class: 'sub num' }, `额度 ¥${yuan(l.limit)}`),
    el('span', { class: 'sub num' }, `余额 ¥${yuan(l.outstanding)}`),
    l.status_reason ? el('span', { class: 'sub', dataset: { testid: 'supply-row-reason' } }, l.status_reason) : null,
  ];
}

function warningRow(w) {
  const actionCls = w.action === 'freeze' ? 'badge badge--danger' : 'badge badge--warn';
  return el(
    'tr',
    { dataset: { testid: 'supply-warning-row', action: w.action, uscc: w.uscc } },
    el('td', { class: 'num' }, el('time', { datetime: w.at }, beijingTime(w.at))),
    el('td', {}, w.distributor, el('span', { class: 'sub mono' }, w.uscc)),
    el(
      'td',
      {},
      el('span', { class: actionCls }, w.action_text),
      el('span', { class: 'sub num' }, w.old_limit === w.new_limit ? `额度 ¥${yuan(w.old_limit)}，暂停用款` : `¥${yuan(w.old_limit)} → ¥${yuan(w.new_limit)}`),
    ),
    el('td', { class: 'num' }, monthText(w.closed_month)),
    el(
      'td',
      {},
      el('span', {}, w.reason),
      (w.signals || []).length
        ? el(
          'ul',
          { class: 'scf-signal-list' },
          w.signals.map((s) => {
            const [text, cls] = SIGNAL_SEVERITY[s.severity] || [s.severity, 'badge'];
            return el('li', { dataset: { testid: 'supply-warning-signal', signal: s.signal, severity: s.severity } }, el('span', { class: cls }, text), ' ', s.text);
          }),
        )
        : null,
    ),
  );
}

/** 供应链融资视图：首次显示时加载；“刷新”、筛选、搜索与翻页只重载当前核心企业的明细。 */
function supplyView(host, { readOnly, updatedNode, refreshBtn }) {
  let started = null;
  let enterprises = [];
  let selected = null;
  let filter = 'all';
  let query = '';
  let page = 1;
  let seq = 0;
  let searchTimer = null;
  let shellReady = false;

  const picker = el('select', { class: 'select', id: 'supply-enterprise', 'aria-label': '选择核心企业', dataset: { testid: 'supply-enterprise-select' } });
  const pickerField = el('div', { class: 'field', hidden: true }, el('label', { class: 'field__label', for: 'supply-enterprise' }, '核心企业'), picker);
  const entHost = el('div');
  const statsHost = el('div');
  const outcome = el('div', { role: 'status', 'aria-live': 'polite', dataset: { testid: 'supply-action-result' } });
  const detailProblem = el('div');
  const filterBtns = SUPPLY_FILTERS.map(([value, text]) =>
    el('button', { class: 'seg__btn', type: 'button', 'aria-pressed': String(value === filter), dataset: { testid: 'supply-filter', view: value } }, text),
  );
  const search = el('input', { class: 'input', type: 'search', placeholder: '经销商名称或统一社会信用代码', 'aria-label': '搜索经销商', dataset: { testid: 'supply-search' } });
  const count = el('span', { class: 'small muted', role: 'status', dataset: { testid: 'supply-count' } });
  const tbody = el('tbody', {});
  const pager = el('div', { class: 'table-foot scf-pager' });
  const warningsHost = el('div');
  const receiptHost = el('div');

  picker.addEventListener('change', () => {
    selected = picker.value;
    page = 1;
    replace(outcome);
    loadDetail();
  });
  for (const b of filterBtns) {
    b.addEventListener('click', () => {
      filter = b.dataset.view;
      page = 1;
      for (const x of filterBtns) x.setAttribute('aria-pressed', String(x === b));
      loadDetail();
    });
  }
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      query = search.value.trim();
      page = 1;
      loadDetail();
    }, 300);
  });
  search.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    clearTimeout(searchTimer);
    query = search.value.trim();
    page = 1;
    loadDetail();
  });

  // ----- 销售回款入账 -----
  const rcUscc = el('input', { id: 'rc-uscc', class: 'input mono', autocomplete: 'off', maxlength: '18', spellcheck: 'false', dataset: { testid: 'supply-receipt-uscc' } });
  const rcAmount = el('input', { id: 'rc-amount', class: 'input', inputmode: 'decimal', autocomplete: 'off', placeholder: '例如 50000', dataset: { testid: 'supply-receipt-amount' } });
  const rcReference = el('input', { id: 'rc-reference', class: 'input mono', autocomplete: 'off', maxlength: '64', value: receiptReference(), dataset: { testid: 'supply-receipt-reference' } });
  const rcSubmit = el('button', { class: 'btn btn--primary', type: 'submit', dataset: { testid: 'supply-receipt-submit' } }, '入账');
  const rcResult = el('div', { role: 'status', 'aria-live': 'polite', dataset: { testid: 'supply-receipt-result' } });
  const receiptForm = el(
    'form',
    { class: 'scf-form', novalidate: true, 'aria-labelledby': 'rc-title' },
    el('div', { class: 'field' }, el('label', { class: 'field__label', for: 'rc-uscc' }, '经销商统一社会信用代码'), rcUscc),
    el('div', { class: 'field' }, el('label', { class: 'field__label', for: 'rc-amount' }, '回款金额（元）'), rcAmount),
    el('div', { class: 'field' }, el('label', { class: 'field__label', for: 'rc-reference' }, '支付系统流水号'), rcReference),
    el('div', { class: 'scf-form__actions' }, rcSubmit),
    el('div', { class: 'scf-form__wide' }, rcResult),
  );
  receiptForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const uscc = rcUscc.value.trim().toUpperCase();
    const fen = toFen(rcAmount.value);
    const reference = rcReference.value.trim();
    const complain = (message, input) => {
      replace(rcResult, problemBanner({ detail: message, code: 'client.invalid' }, { variant: 'warn' }));
      input.focus();
    };
    if (!USCC_RE.test(uscc)) return complain('请填写 18 位统一社会信用代码。', rcUscc);
    if (fen === null || fen <= 0n) return complain('请填写回款金额（大于 0，最多两位小数）。', rcAmount);
    if (!reference || reference.length > 64) return complain('请填写支付系统流水号（不超过 64 个字符）。', rcReference);
    rcSubmit.disabled = true;
    rcSubmit.textContent = '正在入账…';
    replace(rcResult);
    try {
      const r = await api('/api/v1/console/supply/receipts', { method: 'POST', body: { uscc, amount: fenToText(fen), reference } });
      const rc = r.receipt || {};
      rcResult.dataset.duplicate = String(Boolean(r.duplicate));
      replace(
        rcResult,
        el(
          'div',
          { class: 'scf-outcome' },
          el('p', { class: 'scf-outcome__title' }, r.duplicate ? '该流水号此前已入账，未重复记账' : '销售回款已入账'),
          el(
            'p',
            { class: 'small' },
            `流水号 ${rc.reference} · 回款 ¥${yuan(rc.amount)} · 自动还款 ¥${yuan(rc.swept)} · 结算账户余额 ¥${yuan(r.account_balance)}`,
          ),
        ),
      );
      if (!r.duplicate) {
        rcReference.value = receiptReference();
        rcAmount.value = '';
        loadDetail();
      }
    } catch (err) {
      if (!err.redirecting) replace(rcResult, problemBanner(err));
    } finally {
      rcSubmit.disabled = false;
      rcSubmit.textContent = '入账';
    }
  });

  function prefillReceipt(uscc) {
    rcUscc.value = uscc;
    replace(rcResult);
    receiptForm.scrollIntoView({ block: 'center', behavior: 'smooth' });
    rcAmount.focus({ preventScroll: true });
  }

  // ----- 操作：批量预授信、贷后预警 -----

  async function runAction(button, kind) {
    const label = button.textContent;
    button.disabled = true;
    button.textContent = kind === 'batch' ? '正在批量预授信…' : '正在运行贷后预警…';
    replace(outcome, loadingBlock(kind === 'batch' ? '正在经接入标准获取经销商名录与交易数据并逐户预授信…' : '正在获取核心企业最新账期数据并逐户比对…'));
    const path = kind === 'batch' ? 'preapprovals' : 'monitoring';
    try {
      const r = await api(`/api/v1/console/supply/enterprises/${encodeURIComponent(selected)}/${path}`, { method: 'POST' });
      replace(outcome, kind === 'batch' ? batchOutcome(r) : monitorOutcome(r));
      toast(kind === 'batch' ? '批量预授信完成' : '贷后预警完成');
      await loadDetail();
    } catch (err) {
      if (!err.redirecting) replace(outcome, problemBanner(err));
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }

  function batchOutcome(b) {
    const total = (Number(b.fetch_ms) || 0) + (Number(b.compute_ms) || 0) + (Number(b.store_ms) || 0);
    return el(
      'div',
      { class: 'scf-outcome', dataset: { testid: 'supply-batch-result', id: b.id } },
      el('p', { class: 'scf-outcome__title' }, `批量预授信完成：评估 ${fmtCount(b.distributors)} 户，预授信 ${fmtCount(b.offered)} 户（合计 ¥${yuan(b.total_limit)}），未通过 ${fmtCount(b.declined)} 户`),
      el('p', { class: 'small' }, `数据账期 ${monthText(b.closed_month)} · 获取 ${fmtMs(b.fetch_ms)} · 计算 ${fmtMs(b.compute_ms)} · 写入 ${fmtMs(b.store_ms)}（合计 ${fmtMs(total)}）· 策略版本 ${b.policy_version}`),
    );
  }

  function monitorOutcome(m) {
    const acted = m.acted || [];
    return el(
      'div',
      { class: 'scf-outcome', dataset: { testid: 'supply-monitor-result', lowered: String(m.lowered), frozen: String(m.frozen) } },
      el(
        'p',
        { class: 'scf-outcome__title' },
        m.checked
          ? `贷后预警完成：依 ${monthText(m.closed_month)} 账期数据检查 ${fmtCount(m.checked)} 条额度，维持 ${fmtCount(m.kept)}，调减 ${fmtCount(m.lowered)}，冻结 ${fmtCount(m.frozen)}`
          : '贷后预警完成：目前没有需要检查的额度',
      ),
      acted.length
        ? el(
          'ul',
          {},
          acted.map((a) => el('li', { dataset: { testid: 'supply-monitor-acted', uscc: a.uscc, action: a.action } }, `${a.distributor}（${a.uscc}）：${a.action === 'freeze' ? '冻结额度' : '调减额度'}${a.reason ? ` — ${a.reason}` : ''}`)),
        )
        : m.checked
          ? el('p', { class: 'small' }, '本次没有新调减或冻结的额度。')
          : null,
    );
  }

  // ----- 渲染 -----

  function enterpriseCard(e) {
    const a = e.agreement;
    const active = a && a.state === 'active';
    let actions = null;
    if (!readOnly) {
      const batchBtn = el('button', { class: 'btn btn--primary', type: 'button', dataset: { testid: 'supply-preapprove' } }, '批量预授信');
      const monitorBtn = el('button', { class: 'btn', type: 'button', dataset: { testid: 'supply-monitor' } }, '运行贷后预警');
      batchBtn.addEventListener('click', () => runAction(batchBtn, 'batch'));
      monitorBtn.addEventListener('click', () => runAction(monitorBtn, 'monitor'));
      actions = el('div', { class: 'scf-actions' }, batchBtn, monitorBtn);
    }
    return el(
      'article',
      { class: 'card', 'aria-labelledby': 'scf-ent-title', dataset: { testid: 'supply-enterprise', id: e.id } },
      el(
        'div',
        { class: 'card__header' },
        el('h2', { id: 'scf-ent-title', class: 'card__title' }, e.name),
        el('span', { class: active ? 'badge badge--ok' : 'badge badge--warn', dataset: { testid: 'supply-agreement-state' } }, a ? `协议${a.state_text}` : '未签协议'),
      ),
      el(
        'dl',
        { class: 'kv small scf-ent__facts' },
        el('dt', {}, '统一社会信用代码'), el('dd', { class: 'mono' }, e.uscc),
        el('dt', {}, '机构账号'), el('dd', { class: 'mono' }, e.institution),
        agreementFacts(a),
      ),
      active
        ? null
        : problemBanner(
          { detail: `${e.name}尚未签署或已撤回、已到期数据共享协议：本行不能获取其经销商数据，批量预授信与贷后预警将被拒绝。请联系${e.name}在机构工作台签署。`, code: a ? `agreement.${a.state}` : 'agreement.none' },
          { variant: 'warn' },
        ),
      batchBlock(e.last_batch),
      actions,
    );
  }

  function distRow(d) {
    const [stText, stCls] = DIST_STATUS[d.status] || [d.status, 'badge'];
    let action = null;
    if (d.line && !readOnly) {
      const receipt = el('button', { class: 'btn btn--s', type: 'button', dataset: { testid: 'supply-receipt-prefill', uscc: d.uscc } }, '回款入账');
      receipt.addEventListener('click', () => prefillReceipt(d.uscc));
      action = el('div', { class: 'stack stack--s' }, receipt, d.line.status === 'frozen' ? unfreezeControl(d) : null);
    }
    return el(
      'tr',
      { dataset: { testid: 'supply-row', uscc: d.uscc, outcome: d.outcome || '', lineStatus: d.line ? d.line.status : '' } },
      el('td', {}, d.name, el('span', { class: 'sub mono' }, d.uscc)),
      el('td', {}, d.city, el('span', { class: 'sub' }, TIER_LABELS[d.tier] || d.tier)),
      el('td', { class: 'num' }, `${d.tenure_months} 个月`),
      el('td', {}, el('span', { class: stCls }, stText)),
      el('td', {}, offerCell(d)),
      el('td', {}, lineCell(d.line)),
      readOnly ? null : el('td', {}, action),
    );
  }

  // 人工复核后解除预警冻结：须填写复核意见（记入审计日志），额度恢复可用，已调减的额度不变。
  function unfreezeControl(d) {
    const cell = el('div', { class: 'stack stack--s' });
    const open = el('button', { class: 'btn btn--s', type: 'button', dataset: { testid: 'supply-unfreeze', uscc: d.uscc } }, '解除冻结');
    open.addEventListener('click', () => {
      const note = el('input', {
        class: 'input', type: 'text', maxlength: 200, placeholder: '复核意见（必填）',
        'aria-label': `解除${d.name}额度冻结的复核意见`, dataset: { testid: 'supply-unfreeze-note' },
      });
      const confirm = el('button', { class: 'btn btn--s btn--primary', type: 'button', dataset: { testid: 'supply-unfreeze-confirm' } }, '确认解除');
      const problem = el('div');
      confirm.addEventListener('click', async () => {
        confirm.disabled = true;
        replace(problem);
        try {
          await api(`/api/v1/console/supply/distributors/${encodeURIComponent(d.uscc)}/unfreeze`, { method: 'POST', body: { note: note.value } });
        } catch (err) {
          confirm.disabled = false;
          if (!err.redirecting) replace(problem, problemBanner(err));
          return;
        }
        loadDetail();
      });
      replace(cell, note, confirm, problem);
      note.focus();
    });
    replace(cell, open);
    return cell;
  }

  function renderPager(d) {
    const pages = Math.max(1, Math.ceil((Number(d.total) || 0) / (Number(d.per_page) || SUPPLY_PER_PAGE)));
    const prev = el('button', { class: 'btn btn--s', type: 'button', disabled: page <= 1, dataset: { testid: 'supply-prev' } }, '上一页');
    const next = el('button', { class: 'btn btn--s', type: 'button', disabled: page >= pages, dataset: { testid: 'supply-next' } }, '下一页');
    prev.addEventListener('click', () => {
      page -= 1;
      loadDetail();
    });
    next.addEventListener('click', () => {
      page += 1;
      loadDetail();
    });
    replace(
      pager,
      d.total ? [prev, el('span', { class: 'small muted', dataset: { testid: 'supply-page' } }, `第 ${page} / ${pages} 页 · 每页 ${d.per_page} 户`), next] : null,
    );
  }

  function renderWarnings(list) {
    replace(
      warningsHost,
      el(
        'article',
        { class: 'card', 'aria-labelledby': 'scf-warn-title', dataset: { testid: 'supply-warnings' } },
        el('div', { class: 'card__header' }, el('h2', { id: 'scf-warn-title', class: 'card__title' }, '贷后预警记录'), el('span', { class: 'small muted' }, list.length ? `最近 ${fmtCount(list.length)} 条` : '')),
        list.length
          ? el(
            'div',
            { class: 'table-wrap' },
            el(
              'table',
              { class: 'data-table scf-table' },
              el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, '时间（北京时间）'), el('th', { scope: 'col' }, '经销商'), el('th', { scope: 'col' }, '处置'), el('th', { scope: 'col' }, '数据账期'), el('th', { scope: 'col' }, '原因与预警信号'))),
              el('tbody', {}, list.map(warningRow)),
            ),
          )
          : el('div', { class: 'empty', dataset: { testid: 'supply-warnings-empty' } }, '暂无调减或冻结额度的预警。'),
      ),
    );
  }

  function render(d) {
    replace(entHost, enterpriseCard(d.enterprise));
    replace(statsHost, supplySummary(d.enterprise.summary || {}));
    const rows = d.distributors || [];
    replace(
      tbody,
      rows.length
        ? rows.map(distRow)
        : el('tr', {}, el('td', { colspan: readOnly ? '6' : '7' }, el('div', { class: 'empty', dataset: { testid: 'supply-empty' } }, query || filter !== 'all' ? '没有符合条件的经销商。' : '尚无经销商数据，请先批量预授信。'))),
    );
    count.textContent = `共 ${fmtCount(Number(d.total) || 0)} 户`;
    renderPager(d);
    renderWarnings(d.warnings || []);
  }

  function renderShell() {
    shellReady = true;
    replace(
      receiptHost,
      readOnly
        ? null
        : el(
          'article',
          { class: 'card', 'aria-labelledby': 'rc-title', dataset: { testid: 'supply-receipt-form' } },
          el('h2', { id: 'rc-title', class: 'card__title' }, '销售回款入账'),
          el('p', { class: 'small muted' }, '模拟本行支付系统的到账通知：经销商结算账户收到一笔销售回款，并按经销商设定的比例自动还款。同一流水号只入账一次。'),
          receiptForm,
        ),
    );
    replace(
      host,
      el(
        'div',
        { class: 'scf-console' },
        pickerField,
        entHost,
        outcome,
        statsHost,
        detailProblem,
        el(
          'article',
          { class: 'card', 'aria-labelledby': 'scf-dist-title', dataset: { testid: 'supply-distributors' } },
          el('div', { class: 'card__header' }, el('h2', { id: 'scf-dist-title', class: 'card__title' }, '经销商'), count),
          el('div', { class: 'scf-toolbar' }, el('div', { class: 'seg', role: 'group', 'aria-label': '按预授信与额度状态筛选' }, filterBtns), search),
          el(
            'div',
            { class: 'table-wrap' },
            el(
              'table',
              { class: 'data-table scf-table', dataset: { testid: 'supply-table' } },
              el(
                'thead',
                {},
                el(
                  'tr',
                  {},
                  el('th', { scope: 'col' }, '经销商'),
                  el('th', { scope: 'col' }, '地区 / 层级'),
                  el('th', { scope: 'col' }, '合作'),
                  el('th', { scope: 'col' }, '核心企业评价'),
                  el('th', { scope: 'col' }, '预授信'),
                  el('th', { scope: 'col' }, '额度'),
                  readOnly ? null : el('th', { scope: 'col' }, el('span', { class: 'visually-hidden' }, '操作')),
                ),
              ),
              tbody,
            ),
          ),
          pager,
        ),
        warningsHost,
        receiptHost,
        readOnly ? el('p', { class: 'small muted' }, '审计人员只读：批量预授信、贷后预警与回款入账由银行运营人员办理。') : null,
      ),
    );
  }

  function renderPicker() {
    pickerField.hidden = enterprises.length < 2;
    replace(picker, enterprises.map((e) => el('option', { value: e.id, selected: e.id === selected }, e.name)));
  }

  function renderOnboarding() {
    shellReady = false;
    if (readOnly) {
      replace(host, el('div', { class: 'card' }, el('div', { class: 'empty', dataset: { testid: 'supply-none' } }, '尚未准入任何核心企业。')));
      return;
    }
    const name = el('input', { id: 'ob-name', class: 'input', value: DEMO_ENTERPRISE.name, maxlength: '100', dataset: { testid: 'supply-onboard-name' } });
    const uscc = el('input', { id: 'ob-uscc', class: 'input mono', value: DEMO_ENTERPRISE.uscc, maxlength: '18', spellcheck: 'false', dataset: { testid: 'supply-onboard-uscc' } });
    const institution = el('select', { id: 'ob-institution', class: 'select', dataset: { testid: 'supply-onboard-institution' } }, CORE_INSTITUTIONS.map(([v, t]) => el('option', { value: v }, t)));
    const subsystem = el('input', { id: 'ob-subsystem', class: 'input mono', value: DEMO_ENTERPRISE.subsystem, spellcheck: 'false', 'aria-describedby': 'ob-subsystem-hint', dataset: { testid: 'supply-onboard-subsystem' } });
    const problem = el('div', { class: 'scf-form__wide' });
    const submit = el('button', { class: 'btn btn--primary', type: 'submit', dataset: { testid: 'supply-onboard-submit' } }, '准入');
    const form = el(
      'form',
      { class: 'scf-form', novalidate: true, 'aria-labelledby': 'ob-title' },
      el('div', { class: 'field' }, el('label', { class: 'field__label', for: 'ob-name' }, '企业名称'), name),
      el('div', { class: 'field' }, el('label', { class: 'field__label', for: 'ob-uscc' }, '统一社会信用代码'), uscc),
      el('div', { class: 'field' }, el('label', { class: 'field__label', for: 'ob-institution' }, '企业员工的机构账号'), institution),
      el(
        'div',
        { class: 'field scf-form__wide' },
        el('label', { class: 'field__label', for: 'ob-subsystem' }, '企业系统（接入标准登记簿）'),
        subsystem,
        el('p', { id: 'ob-subsystem-hint', class: 'field__hint' }, '提供经销商名录、交易与订单数据的企业系统编号，如 A集团经销商管理系统 CN-CD/COM/a-group/distribution。'),
      ),
      problem,
      el('div', { class: 'scf-form__actions' }, submit),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      submit.disabled = true;
      submit.textContent = '正在准入…';
      replace(problem);
      try {
        await api('/api/v1/console/supply/enterprises', {
          method: 'POST',
          body: { name: name.value.trim(), uscc: uscc.value.trim().toUpperCase(), institution: institution.value, subsystem: subsystem.value.trim() },
        });
        toast('核心企业已准入');
        started = reload();
      } catch (err) {
        submit.disabled = false;
        submit.textContent = '准入';
        if (!err.redirecting) replace(problem, problemBanner(err));
      }
    });
    replace(
      host,
      el(
        'article',
        { class: 'card', 'aria-labelledby': 'ob-title', dataset: { testid: 'supply-onboard' } },
        el('h2', { id: 'ob-title', class: 'card__title' }, '核心企业准入'),
        el('p', { class: 'small muted' }, '尚未准入任何核心企业。准入后，由核心企业在机构工作台签署数据共享协议，本行方可获取其经销商数据开展批量预授信。'),
        form,
      ),
    );
  }

  async function loadDetail() {
    if (!selected) return;
    const mine = ++seq;
    const p = new URLSearchParams({ view: filter, page: String(page), per_page: String(SUPPLY_PER_PAGE) });
    if (query) p.set('q', query);
    tbody.setAttribute('aria-busy', 'true');
    try {
      const d = await api(`/api/v1/console/supply/enterprises/${encodeURIComponent(selected)}?${p}`);
      if (mine !== seq) return;
      const pages = Math.max(1, Math.ceil((Number(d.total) || 0) / (Number(d.per_page) || SUPPLY_PER_PAGE)));
      if (page > pages) {
        page = pages;
        await loadDetail();
        return;
      }
      replace(detailProblem);
      render(d);
      updatedNode.textContent = `最后更新：${timeFmt.format(new Date())}`;
    } catch (err) {
      if (mine !== seq || err.redirecting) return;
      if (err.status === 403) {
        shellReady = false;
        replace(host, denied(err, 'supply-denied', '供应链融资仅限银行运营人员、审计人员与系统管理员查看。'));
        return;
      }
      replace(detailProblem, problemBanner(err, { onRetry: () => loadDetail() }));
    } finally {
      if (mine === seq) tbody.removeAttribute('aria-busy');
    }
  }

  async function reload() {
    refreshBtn.disabled = true;
    try {
      try {
        enterprises = (await api('/api/v1/console/supply/enterprises')) || [];
      } catch (err) {
        if (err.redirecting) return;
        shellReady = false;
        if (err.status === 403) replace(host, denied(err, 'supply-denied', '供应链融资仅限银行运营人员、审计人员与系统管理员查看。'));
        else replace(host, problemBanner(err, { onRetry: () => { started = reload(); } }));
        return;
      }
      if (!enterprises.length) {
        selected = null;
        renderOnboarding();
        return;
      }
      if (!selected || !enterprises.some((e) => e.id === selected)) selected = enterprises[0].id;
      if (!shellReady) renderShell();
      renderPicker();
      await loadDetail();
    } finally {
      refreshBtn.disabled = false;
    }
  }

  refreshBtn.addEventListener('click', () => {
    replace(outcome);
    started = reload();
  });

  return {
    show() {
      if (!started) {
        replace(host, loadingBlock());
        started = reload();
      }
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
  const assistant = assistantView(root.querySelector('[data-view="assistant"]'));
  const antibot = antibotView(root.querySelector('[data-antibot="body"]'));
  const supply = supplyView(root.querySelector('[data-supply="body"]'), {
    readOnly: me.role === 'auditor',
    updatedNode: root.querySelector('[data-testid="supply-updated"]'),
    refreshBtn: root.querySelector('[data-testid="supply-refresh"]'),
  });
  const onShow = (name) => {
    if (name !== 'antibot') antibot.hide();
    if (name === 'antibot') return antibot.show();
    if (name === 'assistant') return assistant.show(window.location.hash.replace(/^#/, ''));
    if (name === 'audit') return audit.show();
    if (name === 'review') return review.show();
    if (name === 'supply') return supply.show();
    return undefined;
  };
  const initial = showView(root, { onShow });
  window.addEventListener('hashchange', () => showView(root, { focus: true, onShow }));
  root.querySelector('[data-testid="refresh-status"]').addEventListener('click', () => refreshStatus(root));
  // 等首轮状态检查（以及直接打开 #audit、#review、#supply、#antibot 时的首屏数据）完成再标记 page-ready，测试拿到的就是最终状态
  await Promise.all([refreshStatus(root), initial]);
});
