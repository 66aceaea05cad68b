// 便民服务平台 · 闪电贷（ES module）
//
// 一个页面走完全程，每一步都由服务端状态（GET /api/v1/me/loan）决定，刷新页面回到同一步：
//   申请（金额、用途）→ 授权（政务数据查询、征信查询，两份分开授权）→ 审批（实时流程时间线）
//   → 审批结果（通过：要约，年化利率醒目展示；未通过：主要原因与人工复核）→ 签约（阅读计时、
//   本机 SM2 设备密钥签名）→ 用款（额度、借款、还款、交易记录）。
//
// 审批时间线：提交审批前先打开 EventSource（…/events），服务端每完成一步推送 `event: step`
// （TimelineEntry），最后推送 `event: state`（ApplicationView）后结束；页面加载时按
// application.timeline 画出已有的步骤。
//
// 借款与还款带 Idempotency-Key：每次提交意图只生成一个键，网络失败或超时后“重新提交”沿用同一个键，
// 服务端据此最多记账一次；只有成功、被明确拒绝或用户取消后才换新键。api() 不能带自定义请求头，
// 这两个请求由 api.js 的 postIdempotent() 发出，错误处理与 api() 一致。
//
// 金额一律是服务端给的元字符串（"12000.00"），比较与换算用整数分（BigInt），从不经浮点。

import { boot } from './shell.js';
import { api, ApiError, postIdempotent, retryable } from './api.js';
import { el, replace, problemBanner, toast } from './dom.js';
import { consentPrompt, dateZh } from './consent.js';
import {
  dateTime, fenToText, fieldError, interestExample, kvRow, loadingBox, newKey, parseInputYuan, percentText,
  rateBlock, setFieldError, sleep, toFen, yuan,
} from './credit-ui.js';

const MIN_AMOUNT_FEN = 100000n; // 1,000 元
const MAX_AMOUNT_FEN = 20000000n; // 200,000 元
const STEP_FEN = 10000n; // 100 元的整数倍
const POLL_EVERY_MS = 1500;
const POLL_MAX_MS = 60000;
/** 提交审批前最多等事件流连上这么久；连不上也照常提交，结果以提交的应答为准。 */
const STREAM_OPEN_WAIT_MS = 1500;
/** 提交的应答先到时，再给事件流这么久把最后几步推完，时间线看得到完整过程。 */
const STREAM_DRAIN_MS = 800;

// ---------- 时刻 ----------

const hmsFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hourCycle: 'h23',
});

/** 东八区时刻（毫秒）：14:05:09.123。 */
function timeMs(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '—' : hmsFmt.format(d);
}

// ---------- 文案 ----------

const PROGRESS = [
  ['apply', '申请'],
  ['consent', '授权'],
  ['decision', '审批'],
  ['contract', '签约'],
  ['line', '用款'],
];

/** 审批流程的步骤（服务端推送前先以“待处理”占位）。 */
const DECISION_STEPS = ['application', 'consent', 'identity', 'data', 'crosscheck', 'policy', 'score', 'decision'];
const STEP_LABELS = {
  application: '提交申请',
  consent: '授权确认',
  identity: '身份核验',
  data: '政务数据查询',
  crosscheck: '数据交叉核验',
  policy: '准入政策',
  score: '信用评分',
  decision: '审批决定',
  review: '人工复核',
  contract: '合同签署',
  line: '额度开通',
};
const STEP_STATE = {
  done: ['✓', '已完成'],
  running: ['', '进行中'],
  failed: ['✕', '未通过'],
  pending: ['', '待处理'],
};

const CONSENTS = {
  LOAN_UNDERWRITING: {
    purpose: 'LOAN_UNDERWRITING',
    title: '政务数据查询授权',
    why: '审批闪电贷需要核验您的身份（公安实名信息），并向成都住房公积金管理中心、社会保险事业管理局、税务部门和人民法院查询您的公积金缴存、社保缴纳、个人所得税纳税和涉诉信息，用于评估您的还款能力。',
  },
  LOAN_CREDIT_REPORT: {
    purpose: 'LOAN_CREDIT_REPORT',
    title: '征信查询授权',
    why: '按照中国人民银行征信管理要求，查询您的个人信用报告须单独授权。本行仅为审批本次闪电贷申请及贷后管理查询，不作他用。',
  },
};

const LINE_STATUS = {
  active: ['正常', 'badge badge--ok'],
  frozen: ['已冻结', 'badge badge--danger'],
  expired: ['已到期', 'badge badge--warn'],
  closed: ['已关闭', 'badge'],
};
const REVIEW_STATE = {
  pending: ['人工复核中', 'badge badge--warn'],
  upheld: ['复核维持原结果', 'badge'],
  overturned: ['复核改为通过', 'badge badge--ok'],
};
const TX_KIND = { draw: '借款', repayment: '还款' };

// ---------- 审批时间线 ----------

/**
 * 流程可视化：按 seq 排序的步骤；同一步骤先推“进行中”再推“已完成/失败”时，新条目替换旧条目。
 * live 为真时，尚未出现的审批步骤以“待处理”占位。
 */
function timeline(initial, { live = false, title = '审批进度' } = {}) {
  const entries = new Map();
  const list = el('ol', { class: 'timeline', dataset: { testid: 'loan-timeline' } });
  const badge = el('span', { class: 'badge', dataset: { testid: 'timeline-state' } });
  const card = el(
    'section',
    { class: 'card timeline-card', 'aria-labelledby': 'timeline-title' },
    el('div', { class: 'card__header' }, el('h2', { id: 'timeline-title', class: 'card__title' }, title), badge),
    list,
    // 读屏：只播报新完成的步骤，不重读整条时间线
    el('p', { class: 'visually-hidden', 'aria-live': 'polite', dataset: { timelineAnnounce: '' } }),
  );
  const announce = card.querySelector('[data-timeline-announce]');

  function add(entry, { quiet = false } = {}) {
    if (!entry || entry.seq === undefined) return;
    for (const [seq, old] of entries) {
      if (old.step === entry.step && old.state === 'running' && seq < entry.seq) entries.delete(seq);
    }
    entries.set(entry.seq, entry);
    if (!quiet) announce.textContent = `${entry.label || STEP_LABELS[entry.step] || entry.step}：${STEP_STATE[entry.state]?.[1] || entry.state}`;
    render();
  }

  function setLive(on) {
    live = on;
    render();
  }

  function render() {
    const sorted = [...entries.values()].sort((a, b) => a.seq - b.seq);
    const seen = new Set(sorted.map((e) => e.step));
    const failed = sorted.some((e) => e.state === 'failed');
    const pending = live && !failed ? DECISION_STEPS.filter((s) => !seen.has(s)).map((step) => ({ step, state: 'pending', label: STEP_LABELS[step] })) : [];
    const first = sorted.length ? new Date(sorted[0].at).getTime() : NaN;
    const rows = [...sorted, ...pending].map((e) => {
      const [icon, stateText] = STEP_STATE[e.state] || ['', e.state];
      const t = e.at ? new Date(e.at).getTime() : NaN;
      const ms = Number.isFinite(t) && Number.isFinite(first) ? t - first : 0;
      const offset = ms > 0 ? (ms < 1000 ? `+${ms} 毫秒` : `+${(ms / 1000).toFixed(3)} 秒`) : null;
      return el(
        'li',
        { class: `timeline__item timeline__item--${e.state}`, dataset: { testid: 'timeline-step', step: e.step, state: e.state } },
        el('span', { class: 'timeline__icon', 'aria-hidden': 'true' }, e.state === 'running' ? el('span', { class: 'spinner timeline__spinner' }) : icon),
        el(
          'div',
          { class: 'timeline__body' },
          el(
            'div',
            { class: 'timeline__head' },
            el('span', { class: 'timeline__label' }, e.label || STEP_LABELS[e.step] || e.step),
            el('span', { class: 'visually-hidden' }, `，${stateText}`),
            e.at
              ? el('time', { class: 'timeline__time', datetime: e.at, title: offset ? `距提交 ${offset}` : null }, timeMs(e.at))
              : el('span', { class: 'timeline__time' }, stateText),
          ),
          e.detail ? el('p', { class: 'timeline__detail' }, e.detail) : null,
          offset ? el('p', { class: 'timeline__offset' }, offset) : null,
        ),
      );
    });
    replace(list, rows.length ? rows : el('li', { class: 'timeline__empty muted small' }, '尚无记录。'));
    const running = live && !failed && (pending.length > 0 || sorted.some((e) => e.state === 'running'));
    badge.className = running ? 'badge badge--warn' : failed ? 'badge badge--danger' : 'badge badge--ok';
    badge.textContent = running ? '进行中' : failed ? '已结束' : '已完成';
    card.dataset.state = running ? 'running' : 'done';
  }

  for (const e of initial || []) add(e, { quiet: true });
  render();
  return { card, add, setLive, addAll: (list2) => (list2 || []).forEach((e) => add(e, { quiet: true })) };
}

/**
 * 跟随审批事件流。返回 { opened, final, close }：opened 在连上（或失败）时完成，
 * final 在收到 `event: state` 时给出 ApplicationView，流出错时给出 null。
 */
function follow(applicationId, tl) {
  let resolveOpened;
  let resolveFinal;
  const opened = new Promise((r) => (resolveOpened = r));
  const final = new Promise((r) => (resolveFinal = r));
  let source;
  try {
    source = new EventSource(`/api/v1/me/loan/applications/${encodeURIComponent(applicationId)}/events`);
  } catch {
    resolveOpened(false);
    resolveFinal(null);
    return { opened, final, close() {} };
  }
  source.addEventListener('open', () => resolveOpened(true));
  source.addEventListener('step', (e) => {
    try {
      tl.add(JSON.parse(e.data));
    } catch {
      // 一条坏消息不影响其余步骤；结果以服务端应答为准
    }
  });
  source.addEventListener('state', (e) => {
    let view = null;
    try {
      view = JSON.parse(e.data);
    } catch {
      view = null;
    }
    source.close();
    resolveFinal(view);
  });
  // 服务端在出结果后结束事件流；EventSource 会自动重连，这里一律关掉，由页面决定后续
  source.addEventListener('error', () => {
    source.close();
    resolveOpened(false);
    resolveFinal(null);
  });
  return {
    opened,
    final,
    close() {
      source.close();
      resolveOpened(false);
      resolveFinal(null);
    },
  };
}

// ---------- 页面 ----------

function page(host, stepsHost) {
  let view = 0; // 每次切换视图加一，过期的异步结果据此作废
  let stream = null;
  let timers = [];
  let data = null; // GET /api/v1/me/loan 的应答

  function reset(state, step) {
    view += 1;
    if (stream) stream.close();
    stream = null;
    for (const t of timers) clearInterval(t);
    timers = [];
    host.dataset.state = state;
    if (step) {
      host.dataset.step = step;
      renderProgress(step);
    }
    return view;
  }

  function renderProgress(step) {
    const at = { apply: 0, consent: 1, submit: 1, processing: 2, decision: 2, contract: 3, line: 4 }[step] ?? 0;
    replace(
      stepsHost,
      el(
        'ol',
        { class: 'loan-steps', dataset: { testid: 'loan-steps' } },
        PROGRESS.map(([key, label], i) =>
          el(
            'li',
            { class: i < at ? 'loan-steps__item is-done' : i === at ? 'loan-steps__item is-current' : 'loan-steps__item', 'aria-current': i === at ? 'step' : null, dataset: { step: key } },
            el('span', { class: 'loan-steps__dot', 'aria-hidden': 'true' }, i < at ? '✓' : String(i + 1)),
            el('span', { class: 'loan-steps__label' }, label),
            i < at ? el('span', { class: 'visually-hidden' }, '（已完成）') : null,
          ),
        ),
      ),
    );
  }

  async function load(notice) {
    const my = reset('loading');
    replace(host, loadingBox('正在加载…'));
    let d;
    try {
      d = await api('/api/v1/me/loan');
    } catch (err) {
      if (err.redirecting || my !== view) return;
      host.dataset.state = 'error';
      replace(host, problemBanner(err, { onRetry: () => load() }));
      return;
    }
    if (my !== view) return;
    data = d;
    route(notice);
  }

  function route(notice) {
    const { application: app, line } = data;
    if (line) return showLine(notice);
    if (!app) return showApply(notice);
    switch (app.state) {
      case 'awaiting_consent':
        return showConsents(app, notice);
      case 'processing':
        return showProcessing(app);
      case 'approved':
      case 'declined':
        return showDecision(app, notice);
      case 'signed':
        // 已签约但额度还没查到（例如开通中）：重新查询一次
        return showLine(notice);
      default:
        return showApply(notice);
    }
  }

  function noticeBox(notice) {
    return notice ? el('div', { class: 'loan-notice' }, problemBanner(notice, { variant: 'warn' })) : null;
  }

  function applicationSummary(app) {
    return el(
      'section',
      { class: 'card loan-summary', dataset: { testid: 'loan-application', id: app.id, state: app.state } },
      el('div', { class: 'loan-summary__row' }, el('span', { class: 'muted small' }, '申请额度'), el('strong', { class: 'loan-summary__amount' }, `¥${yuan(app.amount)}`)),
      el('div', { class: 'loan-summary__row' }, el('span', { class: 'muted small' }, '借款用途'), el('span', {}, app.purpose_label || app.purpose)),
      el('div', { class: 'loan-summary__row' }, el('span', { class: 'muted small' }, '申请时间'), el('span', { class: 'small' }, dateTime(app.created_at))),
    );
  }

  // ----- 1. 申请 -----

  function showApply(notice) {
    reset('ready', 'apply');
    const p = data.product;
    const amount = el('input', {
      id: 'loan-amount',
      class: 'input loan-amount-input',
      type: 'text',
      inputmode: 'numeric',
      autocomplete: 'off',
      placeholder: '例如 20000',
      'aria-describedby': 'loan-amount-hint loan-amount-error',
      dataset: { testid: 'loan-amount' },
    });
    const amountError = fieldError('loan-amount-error');
    const purpose = el(
      'select',
      { id: 'loan-purpose', class: 'select', 'aria-describedby': 'loan-purpose-error', dataset: { testid: 'loan-purpose' } },
      el('option', { value: '' }, '请选择'),
      (p.purposes || []).map((x) => el('option', { value: x.code }, x.label)),
    );
    const purposeError = fieldError('loan-purpose-error');
    const problem = el('div', { class: 'loan-problem' });
    const submit = el('button', { class: 'btn btn--primary btn--block', type: 'submit', dataset: { testid: 'loan-apply' } }, '提交申请');

    const form = el(
      'form',
      { class: 'card stack', novalidate: true, 'aria-labelledby': 'loan-form-title', dataset: { testid: 'loan-apply-form' } },
      el('h2', { id: 'loan-form-title', class: 'card__title' }, '申请额度'),
      el(
        'div',
        { class: 'field' },
        el('label', { class: 'field__label', for: 'loan-amount' }, '申请额度（元）'),
        amount,
        el('p', { id: 'loan-amount-hint', class: 'field__hint' }, `${yuan(fenToText(MIN_AMOUNT_FEN))} – ${yuan(p.max_limit || fenToText(MAX_AMOUNT_FEN))} 元，须为 100 元的整数倍；最终额度以审批结果为准。`),
        amountError,
      ),
      el('div', { class: 'field' }, el('label', { class: 'field__label', for: 'loan-purpose' }, '借款用途'), purpose, purposeError),
      el(
        'div',
        { class: 'loan-forbidden', role: 'note', dataset: { testid: 'loan-forbidden-uses' } },
        el('strong', {}, '资金用途限制'),
        el('p', {}, '贷款资金仅限个人消费，不得用于购房（含首付）、证券、期货、理财、股权投资等投资及其他国家法律法规禁止的用途，不得用于偿还其他贷款。'),
      ),
      el('p', { class: 'small muted' }, '提交后需要您分别授权：政务数据查询、征信查询。审批由系统自动完成，通常几秒内出结果；结果不满意可申请人工复核。'),
      problem,
      submit,
    );

    const validate = () => {
      let ok = true;
      const fen = parseInputYuan(amount.value);
      const max = toFen(p.max_limit) ?? MAX_AMOUNT_FEN;
      let message = '';
      if (!amount.value.trim()) message = '请输入申请额度。';
      else if (fen === null) message = '请输入正确的金额，例如 20000。';
      else if (fen < MIN_AMOUNT_FEN || fen > max) message = `申请额度须在 ${yuan(fenToText(MIN_AMOUNT_FEN))} 至 ${yuan(fenToText(max))} 元之间。`;
      else if (fen % STEP_FEN !== 0n) message = '申请额度须为 100 元的整数倍。';
      setFieldError(amount, amountError, message);
      if (message) ok = false;
      setFieldError(purpose, purposeError, purpose.value ? '' : '请选择借款用途。');
      if (!purpose.value) ok = false;
      return ok ? fen : null;
    };
    amount.addEventListener('blur', () => amount.value.trim() && validate());

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const fen = validate();
      if (fen === null) {
        form.querySelector('[aria-invalid="true"]')?.focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = '正在提交…';
      replace(problem);
      try {
        await api('/api/v1/me/loan/applications', { method: 'POST', body: { amount: fenToText(fen), purpose: purpose.value } });
      } catch (err) {
        submit.disabled = false;
        submit.textContent = '提交申请';
        if (err.redirecting) return;
        // 已有办理中的申请或已有额度：直接去那一步
        if (err.code === 'loan.application_open' || err.code === 'loan.line_exists') {
          load(err);
          return;
        }
        if (err.code === 'loan.invalid_amount') setFieldError(amount, amountError, err.detail);
        if (err.code === 'loan.purpose_not_allowed') setFieldError(purpose, purposeError, err.detail);
        replace(problem, problemBanner(err));
        return;
      }
      load();
    });

    replace(host, noticeBox(notice), productCard(p), form);
    host.dataset.state = 'ready';
  }

  function productCard(p) {
    return el(
      'section',
      { class: 'card loan-product', dataset: { testid: 'loan-product' }, 'aria-labelledby': 'loan-product-title' },
      el(
        'div',
        { class: 'loan-product__hero' },
        el('h2', { id: 'loan-product-title', class: 'loan-product__name' }, p.name || '闪电贷'),
        el('p', { class: 'loan-product__label' }, '最高可借（元）'),
        el('p', { class: 'loan-product__max', dataset: { testid: 'loan-max' } }, yuan(p.max_limit || '200000.00')),
        el('ul', { class: 'loan-product__tags' }, el('li', {}, '最高20万元'), el('li', {}, '随借随还'), el('li', {}, '按日计息')),
      ),
      el(
        'div',
        { class: 'loan-product__rate' },
        el('span', { class: 'loan-product__rate-label' }, '年化利率'),
        el('strong', { class: 'loan-product__rate-value', dataset: { testid: 'loan-apr-range' } }, `${percentText(p.apr_min)} – ${percentText(p.apr_max)}`),
        el('span', { class: 'small muted' }, '具体利率以审批结果为准，按实际借款天数计息'),
      ),
    );
  }

  // ----- 2. 授权 -----

  function showConsents(app, notice) {
    const missing = [app.consents?.government, app.consents?.credit_report].filter((c) => c && !c.granted);
    if (!missing.length) return showSubmit(app, notice);
    reset('consent', 'consent');
    const next = missing[0];
    const what = CONSENTS[next.purpose] || { purpose: next.purpose, title: '个人信息查询授权', why: '审批闪电贷需要查询您的相关信息。' };
    const total = 2;
    const index = total - missing.length + 1;
    const consentHost = el('div', { dataset: { testid: 'loan-consent', purpose: next.purpose } });
    replace(
      host,
      noticeBox(notice),
      applicationSummary(app),
      el('p', { class: 'loan-consent-count', dataset: { testid: 'loan-consent-count' } }, `第 ${index} 项授权，共 ${total} 项：${what.title}`),
      consentHost,
      timeline(app.timeline).card,
    );
    consentPrompt(consentHost, what, () => load());
  }

  function showSubmit(app, notice) {
    const my = reset('ready', 'submit');
    const problem = el('div', { class: 'loan-problem' });
    const button = el('button', { class: 'btn btn--primary btn--block', type: 'button', dataset: { testid: 'loan-submit' } }, '提交审批');
    button.addEventListener('click', () => {
      if (my !== view) return;
      submitForDecision(app);
    });
    replace(
      host,
      noticeBox(notice),
      applicationSummary(app),
      el(
        'section',
        { class: 'card', dataset: { testid: 'loan-ready' } },
        el('h2', { class: 'card__title' }, '授权已完成'),
        el(
          'ul',
          { class: 'loan-checks' },
          el('li', {}, el('span', { class: 'loan-checks__ok', 'aria-hidden': 'true' }, '✓'), CONSENTS.LOAN_UNDERWRITING.title),
          el('li', {}, el('span', { class: 'loan-checks__ok', 'aria-hidden': 'true' }, '✓'), CONSENTS.LOAN_CREDIT_REPORT.title),
        ),
        el('p', { class: 'small muted' }, '提交后，系统将依次核验身份、查询政务数据与征信、交叉核验并评分，您可在下方实时查看每一步。'),
        problem,
        button,
      ),
      timeline(app.timeline).card,
    );
  }

  // ----- 3. 审批（实时时间线） -----

  async function submitForDecision(app) {
    const my = reset('processing', 'processing');
    const tl = timeline(app.timeline, { live: true });
    const problem = el('div', { class: 'loan-problem' });
    const live = el('p', { class: 'loan-live', role: 'status', dataset: { testid: 'loan-processing' } }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), '正在审批，请稍候…');
    replace(host, applicationSummary(app), live, tl.card, problem);
    const s = follow(app.id, tl);
    stream = s;
    await Promise.race([s.opened, sleep(STREAM_OPEN_WAIT_MS)]);
    if (my !== view) return;
    let result;
    try {
      result = await api(`/api/v1/me/loan/applications/${encodeURIComponent(app.id)}/submit`, { method: 'POST', body: {} });
    } catch (err) {
      s.close();
      if (err.redirecting || my !== view) return;
      if (err.code === 'consent.required') {
        load(err);
        return;
      }
      live.remove();
      tl.setLive(false);
      host.dataset.state = 'error';
      replace(problem, problemBanner(err, { onRetry: err.code === 'loan.identity_mismatch' ? null : () => load() }));
      return;
    }
    await Promise.race([s.final, sleep(STREAM_DRAIN_MS)]);
    s.close();
    if (my !== view) return;
    data.application = result;
    route();
  }

  /** 打开页面时申请正在审批：跟随事件流；流不可用时轮询。 */
  function showProcessing(app) {
    const my = reset('processing', 'processing');
    const tl = timeline(app.timeline, { live: true });
    replace(
      host,
      applicationSummary(app),
      el('p', { class: 'loan-live', role: 'status', dataset: { testid: 'loan-processing' } }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), '正在审批，请稍候…'),
      tl.card,
    );
    const s = follow(app.id, tl);
    stream = s;
    s.final.then(async (final) => {
      if (my !== view) return;
      if (final && final.state !== 'processing') {
        data.application = final;
        route();
        return;
      }
      const deadline = Date.now() + POLL_MAX_MS;
      while (my === view && Date.now() < deadline) {
        await sleep(POLL_EVERY_MS);
        if (my !== view) return;
        let d;
        try {
          d = await api('/api/v1/me/loan');
        } catch (err) {
          if (err.redirecting) return;
          continue;
        }
        if (my !== view) return;
        if (!d.application || d.application.state !== 'processing') {
          data = d;
          route();
          return;
        }
        tl.addAll(d.application.timeline);
      }
      if (my === view) load({ detail: '审批时间比平时长，请稍后刷新查看结果。', code: 'loan.still_processing' });
    });
  }

  // ----- 4. 审批结果 -----

  function showDecision(app, notice) {
    reset('ready', 'decision');
    const tl = timeline(app.timeline);
    if (app.state === 'approved') {
      replace(host, noticeBox(notice), offerCard(app), tl.card);
    } else {
      replace(host, noticeBox(notice), declineCard(app), tl.card);
    }
  }

  function offerCard(app) {
    const o = app.offer || {};
    const open = el('button', { class: 'btn btn--primary btn--block', type: 'button', dataset: { testid: 'loan-open-contract' } }, '查看并签署借款合同');
    open.addEventListener('click', () => showContract(app));
    const example = interestExample(o.daily_rate);
    return el(
      'section',
      { class: 'card offer', dataset: { testid: 'loan-decision', state: 'approved' }, 'aria-labelledby': 'offer-title' },
      el(
        'div',
        { class: 'offer__head' },
        el('span', { class: 'offer__icon', 'aria-hidden': 'true' }, '✓'),
        el('div', {}, el('h2', { id: 'offer-title', class: 'offer__title' }, '审批通过'), app.decision_ms !== null && app.decision_ms !== undefined ? el('p', { class: 'small muted', dataset: { testid: 'decision-ms' } }, `系统审批用时 ${app.decision_ms} 毫秒`) : null),
      ),
      app.review && app.review.state === 'overturned' ? reviewStatus(app.review) : null,
      el('p', { class: 'offer__limit-label' }, '授信额度（元）'),
      el('p', { class: 'offer__limit', dataset: { testid: 'offer-limit', amount: o.limit } }, yuan(o.limit || '0.00')),
      rateBlock(o, 'offer'),
      el(
        'dl',
        { class: 'profile-list offer__facts' },
        kvRow('还款方式', o.repayment || '随借随还，按日计息', 'offer-repayment'),
        kvRow('额度有效期', `${o.term_months} 个月`, 'offer-term'),
        kvRow('计息规则', `${o.day_count || 'ACT/360'}（按实际借款天数计息，一年按 360 天计）`),
        example ? kvRow('利息示例', example) : null,
      ),
      el('p', { class: 'small muted offer__note' }, '年化利率按内部收益率（IRR）法计算，依据中国人民银行公告〔2021〕第3号明示；借款前不收取任何费用，提前还款无违约金。'),
      open,
    );
  }

  function reviewStatus(review) {
    const [text, cls] = REVIEW_STATE[review.state] || [review.state, 'badge'];
    return el(
      'div',
      { class: 'loan-review-status', role: 'status', dataset: { testid: 'review-status', state: review.state } },
      el('div', { class: 'cluster cluster--between' }, el('strong', {}, '人工复核'), el('span', { class: cls }, text)),
      el('p', { class: 'small muted' }, `申请时间 ${dateTime(review.requested_at)}${review.resolved_at ? ` · 完成时间 ${dateTime(review.resolved_at)}` : ''}`),
      review.note ? el('p', { class: 'small', dataset: { testid: 'review-note' } }, `复核意见：${review.note}`) : null,
      review.state === 'pending' ? el('p', { class: 'small muted' }, '复核人员将重新审查您的申请材料与审批依据，结果会显示在本页。') : null,
    );
  }

  function declineCard(app) {
    const reasons = app.reasons || [];
    const reviewHost = el('div', { class: 'loan-review' });
    const card = el(
      'section',
      { class: 'card decline', dataset: { testid: 'loan-decision', state: 'declined' }, 'aria-labelledby': 'decline-title' },
      el('div', { class: 'offer__head' }, el('span', { class: 'offer__icon offer__icon--declined', 'aria-hidden': 'true' }, '!'), el('h2', { id: 'decline-title', class: 'offer__title' }, '很抱歉，本次申请暂未通过')),
      reasons.length
        ? [
            el('p', { class: 'decline__lead' }, '主要原因：'),
            el('ul', { class: 'decline__reasons', dataset: { testid: 'decline-reasons' } }, reasons.map((r) => el('li', { dataset: { testid: 'decline-reason', code: r.code } }, r.reason))),
          ]
        : null,
      el('p', { class: 'small muted' }, '本次结果由系统自动审批作出。根据《个人信息保护法》第二十四条，您有权要求本行予以说明，并有权拒绝仅通过自动化决策作出的决定。如您认为结果有误，可申请人工复核。'),
      reviewHost,
    );
    renderReview(reviewHost, app);
    return card;
  }

  function renderReview(reviewHost, app) {
    if (app.review) {
      replace(reviewHost, reviewStatus(app.review));
      return;
    }
    const open = el('button', { class: 'btn btn--block', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'review-form', dataset: { testid: 'review-open' } }, '申请人工复核');
    const reason = el('textarea', { id: 'review-reason', class: 'textarea', maxlength: '500', rows: '4', placeholder: '例如：我已于上月入职新单位，公积金正常缴存。', 'aria-describedby': 'review-reason-error', dataset: { testid: 'review-reason' } });
    const reasonError = fieldError('review-reason-error');
    const problem = el('div', { class: 'loan-problem' });
    const send = el('button', { class: 'btn btn--primary btn--block', type: 'submit', dataset: { testid: 'review-submit' } }, '提交复核申请');
    const cancel = el('button', { class: 'btn btn--block btn--ghost', type: 'button' }, '取消');
    const form = el(
      'form',
      { id: 'review-form', class: 'stack stack--s loan-review__form', novalidate: true, hidden: true },
      el('label', { class: 'field__label', for: 'review-reason' }, '复核理由'),
      reason,
      el('p', { class: 'field__hint' }, '请说明您认为结果有误的原因，可补充审批时未掌握的情况（不超过 500 字）。'),
      reasonError,
      problem,
      send,
      cancel,
    );
    open.addEventListener('click', () => {
      form.hidden = false;
      open.hidden = true;
      open.setAttribute('aria-expanded', 'true');
      reason.focus();
    });
    cancel.addEventListener('click', () => {
      form.hidden = true;
      open.hidden = false;
      open.setAttribute('aria-expanded', 'false');
      open.focus();
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = reason.value.trim();
      setFieldError(reason, reasonError, text ? '' : '请填写复核理由。');
      if (!text) {
        reason.focus();
        return;
      }
      send.disabled = true;
      send.textContent = '正在提交…';
      replace(problem);
      let updated;
      try {
        updated = await api(`/api/v1/me/loan/applications/${encodeURIComponent(app.id)}/review`, { method: 'POST', body: { reason: text } });
      } catch (err) {
        send.disabled = false;
        send.textContent = '提交复核申请';
        if (!err.redirecting) replace(problem, problemBanner(err));
        return;
      }
      data.application = updated;
      toast('已提交人工复核申请');
      showDecision(updated);
    });
    replace(reviewHost, open, form);
  }

  // ----- 5. 签约 -----

  async function showContract(app, notice) {
    const my = reset('loading', 'contract');
    replace(host, loadingBox('正在生成借款合同…'));
    let c;
    try {
      c = await api(`/api/v1/me/loan/applications/${encodeURIComponent(app.id)}/contract`);
    } catch (err) {
      if (err.redirecting || my !== view) return;
      host.dataset.state = 'error';
      const back = el('button', { class: 'btn btn--block', type: 'button' }, '返回审批结果');
      back.addEventListener('click', () => showDecision(app));
      replace(host, problemBanner(err, { onRetry: () => showContract(app) }), back);
      return;
    }
    if (my !== view) return;
    host.dataset.state = 'ready';

    const minRead = Math.max(0, Number(c.min_read_seconds) || 0);
    // 从收到合同时起计：服务端的 presented_at 一定更早，本地计满就一定满足服务端的最短阅读时间
    const readyAt = Date.now() + minRead * 1000;
    const agree = el('input', { id: 'contract-agree', type: 'checkbox', class: 'contract__check', dataset: { testid: 'contract-agree' } });
    const sign = el('button', { class: 'btn btn--primary btn--block', type: 'button', disabled: true, 'aria-describedby': 'contract-status', dataset: { testid: 'contract-sign' } });
    const status = el('p', { id: 'contract-status', class: 'small muted contract__status', dataset: { testid: 'contract-countdown' } });
    const announce = el('p', { class: 'visually-hidden', 'aria-live': 'polite' });
    const problem = el('div', { class: 'loan-problem' });
    let busy = false;

    const remaining = () => Math.max(0, Math.ceil((readyAt - Date.now()) / 1000));
    const update = () => {
      const left = remaining();
      if (busy) return;
      if (left > 0) {
        sign.disabled = true;
        sign.textContent = `请阅读合同（剩余 ${left} 秒）`;
        status.textContent = `为保障您的知情权，请至少阅读 ${minRead} 秒。`;
        status.dataset.remaining = String(left);
      } else {
        sign.disabled = !agree.checked;
        sign.textContent = '签署合同';
        status.textContent = agree.checked ? '将使用本机设备密钥（SM2）签署。' : '请勾选“我已阅读并同意”后签署。';
        status.dataset.remaining = '0';
      }
    };
    const tick = setInterval(() => {
      const before = status.dataset.remaining;
      update();
      if (before !== '0' && status.dataset.remaining === '0') {
        announce.textContent = '阅读时间已满，可以签署合同。';
        clearInterval(tick);
      }
    }, 250);
    timers.push(tick);
    agree.addEventListener('change', update);

    sign.addEventListener('click', async () => {
      if (busy || remaining() > 0 || !agree.checked) return;
      busy = true;
      sign.disabled = true;
      sign.textContent = '正在签署…';
      replace(problem);
      const fail = (err) => {
        busy = false;
        update();
        if (!err.redirecting) replace(problem, problemBanner(err));
      };
      let device;
      let signature;
      try {
        const keys = await import('./devicekey.js');
        device = await keys.ensureDeviceKey();
        signature = await keys.signWithDevice(c.sm3);
      } catch (err) {
        if (err instanceof ApiError) return fail(err);
        return fail({ detail: `无法使用本机签名密钥：${err && err.message ? err.message : '未知错误'}`, code: 'device.unavailable' });
      }
      try {
        await api(`/api/v1/me/loan/applications/${encodeURIComponent(app.id)}/sign`, {
          method: 'POST',
          body: { contract_sm3: c.sm3, device_id: device.deviceId, signature },
        });
      } catch (err) {
        if (err.code === 'loan.contract_changed' && !err.redirecting) {
          showContract(app, err);
          return;
        }
        return fail(err);
      }
      if (my !== view) return;
      toast('合同已签署，额度已开通');
      load();
    });

    update();
    replace(
      host,
      noticeBox(notice),
      el(
        'section',
        { class: 'card contract', dataset: { testid: 'loan-contract', id: c.contract_id, version: c.version }, 'aria-labelledby': 'contract-title' },
        el('h2', { id: 'contract-title', class: 'card__title' }, c.title),
        el('p', { class: 'small muted' }, `合同编号 `, el('span', { class: 'mono' }, c.contract_id), ` · 版本 ${c.version}`),
        el('div', { class: 'contract__text', tabindex: '0', role: 'region', 'aria-label': '合同正文', dataset: { testid: 'contract-text' } }, c.text),
        el('p', { class: 'contract__hash' }, '合同摘要（SM3） ', el('code', { class: 'mono', dataset: { testid: 'contract-sm3' } }, c.sm3)),
        el('label', { class: 'contract__agree', for: 'contract-agree' }, agree, el('span', {}, `我已阅读并同意《${c.title}》`)),
        status,
        announce,
        problem,
        sign,
        el('p', { class: 'small muted' }, '签署时，本机生成的设备密钥对上述合同摘要进行 SM2 签名，私钥不离开本机；签署后合同不可更改。'),
      ),
    );
  }

  // ----- 6. 用款 -----

  async function showLine(notice) {
    let my = reset('loading', 'line');
    if (!data.line) {
      replace(host, loadingBox('正在查询额度…'));
      try {
        data.line = await api('/api/v1/me/loan/line');
      } catch (err) {
        if (err.redirecting || my !== view) return;
        host.dataset.state = 'error';
        replace(host, problemBanner(err, { onRetry: () => load() }));
        return;
      }
      if (my !== view) return;
    }
    my = reset('ready', 'line');
    renderLine(notice, my);
  }

  function renderLine(notice, my, open = null) {
    const line = data.line;
    const account = data.bank_account;
    const [statusText, statusClass] = LINE_STATUS[line.status] || [line.status, 'badge'];
    const limit = toFen(line.limit) ?? 0n;
    const available = toFen(line.available) ?? 0n;
    const used = limit > available ? limit - available : 0n;
    const fill = el('span', { class: 'line-bar__fill' });
    fill.style.width = limit > 0n ? `${Number((available * 10000n) / limit) / 100}%` : '0%';

    const card = el(
      'section',
      { class: 'card line-card', dataset: { testid: 'loan-line', id: line.id, status: line.status }, 'aria-labelledby': 'line-title' },
      el('div', { class: 'card__header' }, el('h2', { id: 'line-title', class: 'card__title' }, '我的闪电贷'), el('span', { class: statusClass, dataset: { testid: 'line-status' } }, statusText)),
      line.status_reason ? el('p', { class: 'line-card__reason', role: 'note' }, line.status_reason) : null,
      el('p', { class: 'line-card__label' }, '可用额度（元）'),
      el('p', { class: 'line-card__available', dataset: { testid: 'line-available', amount: line.available } }, yuan(line.available)),
      el('span', { class: 'line-bar', role: 'img', 'aria-label': `可用 ${yuan(line.available)} 元，已用 ${yuan(fenToText(used))} 元，总额度 ${yuan(line.limit)} 元` }, fill),
      el('p', { class: 'line-card__limit small muted' }, '总额度 ', el('span', { dataset: { testid: 'line-limit', amount: line.limit } }, `${yuan(line.limit)} 元`), ` · 已用 ${yuan(fenToText(used))} 元`),
      rateBlock(line, 'line'),
      el(
        'dl',
        { class: 'profile-list line-card__facts' },
        kvRow('待还本金', `${yuan(line.principal)} 元`, 'line-principal', { amount: line.principal }),
        kvRow('应还利息', `${yuan(line.interest_due)} 元`, 'line-interest', { amount: line.interest_due }),
        (toFen(line.penalty_due) ?? 0n) > 0n ? kvRow('罚息', `${yuan(line.penalty_due)} 元`, 'line-penalty', { amount: line.penalty_due }) : null,
        kvRow('全部结清需还', `${yuan(line.payoff_amount)} 元`, 'line-payoff', { amount: line.payoff_amount }),
        line.minimum_due && (toFen(line.minimum_due) ?? 0n) > 0n ? kvRow('本期最低还款', `${yuan(line.minimum_due)} 元`, 'line-minimum', { amount: line.minimum_due }) : null,
        line.minimum_due && line.due_date ? kvRow('最后还款日', dateZh(line.due_date), 'line-due-date') : null,
        line.bucket && line.bucket !== 'M0' ? kvRow('逾期状态', line.bucket, 'line-bucket') : null,
        kvRow('额度有效期至', dateZh(line.expires_on), 'line-expires', { opened: line.opened_on }),
      ),
    );

    const bank = el(
      'section',
      { class: 'card bank-card', dataset: { testid: 'bank-account', balance: account ? account.balance : '' }, 'aria-labelledby': 'bank-title' },
      el('h2', { id: 'bank-title', class: 'visually-hidden' }, '收款与还款账户'),
      el('span', { class: 'bank-card__icon', 'aria-hidden': 'true' }, '¥'),
      account
        ? el(
            'div',
            { class: 'bank-card__body' },
            el('span', { class: 'small muted' }, `收款与还款账户 · 尾号 ${account.suffix}`),
            el('strong', { class: 'bank-card__balance', dataset: { testid: 'bank-balance' } }, `余额 ¥${yuan(account.balance)}`),
          )
        : el('div', { class: 'bank-card__body muted' }, '未查到本行借记卡账户，暂不能借款或还款。'),
    );

    const actions = moneyActions(line, account, my, open);
    replace(host, noticeBox(notice), card, renewalCard(line), bank, actions, transactionsCard(line), auditTrail());
  }

  /** 额度到期前 30 天内（或已到期）可申请续期：按最新授权数据重新审批，通过后额度延长一年。 */
  function renewalCard(line) {
    const expires = new Date(`${line.expires_on}T00:00:00+08:00`);
    const opens = new Date(expires.getTime() - 30 * 86400000);
    if (Date.now() < opens.getTime()) return null;
    const problem = el('div');
    const button = el('button', { class: 'btn btn--primary btn--block', type: 'button', dataset: { testid: 'line-renew' } }, '申请续期');
    const card = el(
      'section',
      { class: 'card', dataset: { testid: 'loan-renewal' }, 'aria-labelledby': 'renew-title' },
      el('h2', { id: 'renew-title', class: 'card__title' }, '额度续期'),
      el('p', { class: 'muted' }, `您的额度有效期至 ${dateZh(line.expires_on)}。续期将按您最新授权的政务数据与征信重新审批，通过后额度延长一年。`),
      problem,
      button,
    );
    button.addEventListener('click', async () => {
      button.disabled = true;
      button.textContent = '正在重新审批…';
      replace(problem);
      try {
        const result = await api('/api/v1/me/loan/line/renewal', { method: 'POST', body: {} });
        data.line = result.line;
        data.application = result.application;
        const ok = result.application.state === 'signed';
        renderLine({ detail: ok ? `续期成功，额度有效期至 ${dateZh(result.line.expires_on)}。` : '很抱歉，本次续期未通过，额度到期后将不能继续借款，已借款项按合同归还。', code: ok ? 'loan.renewed' : 'loan.renewal_declined' }, view);
      } catch (err) {
        if (err.redirecting) return;
        if (err.code === 'consent.required') {
          const overview = await api('/api/v1/me/loan');
          const consents = overview.application && overview.application.consents;
          const missing = consents && [consents.government, consents.credit_report].find((c) => !c.granted);
          if (missing) {
            const what = missing.purpose === 'LOAN_CREDIT_REPORT'
              ? { purpose: missing.purpose, title: '征信查询授权（额度续期）', why: '续期审批需要查询您在中国人民银行征信中心的信用报告。' }
              : { purpose: missing.purpose, title: '政务数据查询授权（额度续期）', why: '续期审批需要核验身份，并查询您的公积金、社保、纳税与涉诉信息。' };
            consentPrompt(problem, what, () => button.click());
            button.disabled = false;
            button.textContent = '申请续期';
            return;
          }
        }
        replace(problem, problemBanner(err));
        button.disabled = false;
        button.textContent = '申请续期';
      }
    });
    return card;
  }

  function auditTrail() {
    const app = data.application;
    if (!app || !app.timeline || !app.timeline.length) return null;
    const details = el(
      'details',
      { class: 'card loan-trail', dataset: { testid: 'loan-trail' } },
      el('summary', {}, '审批与签约记录'),
    );
    details.append(timeline(app.timeline, { title: '办理记录' }).card);
    return details;
  }

  function transactionsCard(line) {
    const items = [...(line.transactions || [])].sort((a, b) => String(b.at).localeCompare(String(a.at)));
    return el(
      'section',
      { class: 'card', dataset: { testid: 'transactions' }, 'aria-labelledby': 'tx-title' },
      el('div', { class: 'card__header' }, el('h2', { id: 'tx-title', class: 'card__title' }, '借还记录'), el('span', { class: 'small muted' }, `${items.length} 笔`)),
      items.length
        ? el(
            'ul',
            { class: 'tx-list' },
            items.map((t) =>
              el(
                'li',
                { class: `tx tx--${t.kind}`, dataset: { testid: 'transaction', kind: t.kind, id: t.id, amount: t.amount } },
                el(
                  'div',
                  { class: 'tx__head' },
                  el('span', { class: 'tx__kind' }, TX_KIND[t.kind] || t.kind),
                  el('span', { class: 'tx__amount' }, `${t.kind === 'draw' ? '+' : '−'}${yuan(t.amount)}`),
                ),
                el(
                  'div',
                  { class: 'tx__meta' },
                  el('span', {}, dateTime(t.at)),
                  t.kind === 'repayment' ? el('span', {}, `本金 ${yuan(t.to_principal)} · 利息 ${yuan(t.to_interest)}`) : el('span', {}, '已转入借记卡'),
                ),
              ),
            ),
          )
        : el('p', { class: 'muted small' }, '暂无借款或还款记录。'),
    );
  }

  /**
   * 借款与还款两张表单（同一时间展开一张）。每张表单持有当前的提交意图 { key, body }：
   * 结果未知（可重试）时金额锁定、按钮改为“重新提交”并沿用同一个键。
   */
  function moneyActions(line, account, my, open) {
    const canDraw = line.status === 'active' && account && (toFen(line.available) ?? 0n) > 0n;
    const owes = (toFen(line.payoff_amount) ?? 0n) > 0n;
    const canRepay = Boolean(account) && owes;

    const drawToggle = el('button', { class: 'btn btn--primary', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'draw-form', disabled: !canDraw, dataset: { testid: 'draw-open' } }, '借款');
    const repayToggle = el('button', { class: 'btn', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'repay-form', disabled: !canRepay, dataset: { testid: 'repay-open' } }, '还款');

    const draw = moneyForm({
      id: 'draw',
      title: '借款',
      label: '借款金额（元）',
      hint: account ? `最多可借 ${yuan(line.available)} 元，实时转入尾号 ${account.suffix} 的账户。` : '',
      submitText: '确认借款',
      path: '/api/v1/me/loan/line/draws',
      validate: (fen) => {
        if (fen <= 0n) return '请输入借款金额。';
        if (fen > (toFen(line.available) ?? 0n)) return `借款金额不能超过可用额度 ${yuan(line.available)} 元。`;
        return '';
      },
      done: (res) => `已借款 ${yuan(res.transaction?.amount || '0.00')} 元，已转入尾号 ${res.bank_account?.suffix || account?.suffix || ''} 的账户`,
      my,
    });
    const repay = moneyForm({
      id: 'repay',
      title: '还款',
      label: '还款金额（元）',
      hint: account ? `全部结清需还 ${yuan(line.payoff_amount)} 元（含利息），从尾号 ${account.suffix} 的账户扣款；先还利息，再还本金。` : '',
      submitText: '确认还款',
      path: '/api/v1/me/loan/line/repayments',
      validate: (fen) => {
        if (fen <= 0n) return '请输入还款金额。';
        if (fen > (toFen(line.payoff_amount) ?? 0n)) return `还款金额不能超过全部结清金额 ${yuan(line.payoff_amount)} 元。`;
        return '';
      },
      payoff: `全部结清（${yuan(line.payoff_amount)} 元）`,
      done: (res) => `已还款 ${yuan(res.transaction?.amount || '0.00')} 元`,
      my,
    });

    const toggle = (which) => {
      const showDraw = which === 'draw' && draw.form.hidden;
      const showRepay = which === 'repay' && repay.form.hidden;
      draw.form.hidden = !showDraw;
      repay.form.hidden = !showRepay;
      drawToggle.setAttribute('aria-expanded', String(showDraw));
      repayToggle.setAttribute('aria-expanded', String(showRepay));
      if (showDraw) draw.input.focus();
      if (showRepay) repay.input.focus();
    };
    drawToggle.addEventListener('click', () => toggle('draw'));
    repayToggle.addEventListener('click', () => toggle('repay'));
    if (open === 'draw' && canDraw) toggle('draw');
    if (open === 'repay' && canRepay) toggle('repay');

    return el(
      'section',
      { class: 'card money-card', dataset: { testid: 'loan-actions' }, 'aria-label': '借款与还款' },
      el('div', { class: 'money-card__buttons' }, drawToggle, repayToggle),
      line.status === 'frozen' ? el('p', { class: 'small muted' }, '额度已冻结，暂不能借款，仍可正常还款。') : null,
      !owes ? el('p', { class: 'small muted', dataset: { testid: 'line-settled' } }, '当前没有待还款项。') : null,
      draw.form,
      repay.form,
    );
  }

  function moneyForm({ id, title, label, hint, submitText, path, validate, payoff, done, my }) {
    let intent = null; // { key, body, busy, pending }：pending 为真表示结果未知，须用同一个键重试
    const input = el('input', {
      id: `${id}-amount`,
      class: 'input',
      type: 'text',
      inputmode: 'decimal',
      autocomplete: 'off',
      placeholder: '0.00',
      'aria-describedby': `${id}-hint ${id}-error`,
      dataset: { testid: `${id}-amount` },
    });
    const error = fieldError(`${id}-error`);
    const problem = el('div', { class: 'loan-problem' });
    const submit = el('button', { class: 'btn btn--primary btn--block', type: 'submit', dataset: { testid: `${id}-submit` } }, submitText);
    const payoffButton = payoff ? el('button', { class: 'btn btn--block', type: 'button', dataset: { testid: `${id}-payoff` } }, payoff) : null;
    const abandon = el('button', { class: 'btn btn--block btn--ghost', type: 'button', hidden: true, dataset: { testid: `${id}-abandon` } }, '放弃并刷新');

    const form = el(
      'form',
      { id: `${id}-form`, class: 'money-form stack stack--s', novalidate: true, hidden: true, 'aria-label': title, dataset: { testid: `${id}-form` } },
      el('label', { class: 'field__label', for: `${id}-amount` }, label),
      input,
      el('p', { id: `${id}-hint`, class: 'field__hint' }, hint),
      error,
      problem,
      submit,
      payoffButton,
      abandon,
    );

    const lock = (on) => {
      input.readOnly = on;
      submit.disabled = on;
      if (payoffButton) payoffButton.disabled = on;
    };

    async function send(body) {
      if (intent && intent.busy) return;
      if (!intent || !intent.pending) intent = { key: newKey(), body, busy: false, pending: false };
      intent.busy = true;
      lock(true);
      const label0 = submit.textContent;
      submit.textContent = '正在提交…';
      replace(problem);
      let res;
      try {
        res = await postIdempotent(path, intent.body, intent.key);
      } catch (err) {
        intent.busy = false;
        if (err.redirecting) return;
        if (retryable(err)) {
          // 结果未知：金额锁定，只能用同一个键重新提交，或放弃后刷新看实际结果
          intent.pending = true;
          input.readOnly = true;
          submit.disabled = false;
          if (payoffButton) payoffButton.disabled = true;
          submit.textContent = '重新提交';
          abandon.hidden = false;
          replace(problem, problemBanner(err), el('p', { class: 'small muted' }, '重新提交会沿用本次操作的编号，服务端最多记账一次。'));
        } else {
          intent = null;
          lock(false);
          submit.textContent = label0 === '重新提交' ? submitText : label0;
          abandon.hidden = true;
          replace(problem, problemBanner(err));
        }
        return;
      }
      intent = null;
      if (my !== view) return;
      data.line = res.line;
      if (res.bank_account) data.bank_account = res.bank_account;
      toast(done(res));
      renderLine(null, my);
    }

    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (intent && intent.pending) {
        send(intent.body);
        return;
      }
      const fen = parseInputYuan(input.value);
      const message = fen === null ? '请输入正确的金额，最多两位小数。' : validate(fen);
      setFieldError(input, error, message);
      if (message) {
        input.focus();
        return;
      }
      send({ amount: fenToText(fen) });
    });
    if (payoffButton) payoffButton.addEventListener('click', () => send({ payoff: true }));
    abandon.addEventListener('click', () => {
      intent = null;
      load();
    });
    return { form, input };
  }

  return { load };
}

boot(async (_me, root) => {
  await page(root.querySelector('[data-loan="body"]'), root.querySelector('[data-loan="steps"]')).load();
});
