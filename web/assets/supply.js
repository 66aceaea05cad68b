// 便民服务平台 · 供应链融资（经销商订货贷）H5（ES module）
//
// 经销商负责人（企业用户）打开本页：
//   GET /api/v1/me/supply：A集团确认的、登录人名下的经销商及各自的预授信要约、未通过原因或已开通的额度。
//     首次办理须授权（403 consent.required，用途 SCF_DISTRIBUTOR）：展示授权引导，同意后重新查询。
//   要约：额度大字、年化利率最醒目、日利率次之，期限、随借随还按日计息、资金用途（仅限向 A集团支付订货款，
//     受托支付），合同正文可展开；只有一个按钮「接受额度」：POST …/{uscc}/accept（带所示合同的 SM3）。
//     接受时如需授权（征信 LOAN_CREDIT_REPORT 或 SCF_DISTRIBUTOR），授权后自动重试。应答里的各步骤
//     逐一动画展示，然后显示额度。
//   额度：GET …/{uscc}/line。被冻结或调减时页首醒目展示原因与每条预警信号；A集团待付订单
//     （GET …/{uscc}/orders）逐条「用额度支付」→ 确认单（金额默认取订单未付与可用额度的较小者）→
//     POST …/{uscc}/draws；还款从结算账户扣款 POST …/{uscc}/repayments；销售回款自动还款比例
//     PUT …/{uscc}/sweep；已签合同 GET …/{uscc}/contract（展开时才请求）。
//
// 动钱的请求带 Idempotency-Key：每个提交意图只生成一个键，结果未知（网络、超时、5xx）时“重新提交”
// 沿用同一个键，服务端最多记账一次；被明确拒绝或用户放弃后才换新键（与闪电贷页面相同）。
// 金额一律是服务端给的元字符串，比较与换算用整数分（BigInt），从不经浮点。

import { boot } from './shell.js';
import { api, postIdempotent, retryable } from './api.js';
import { el, replace, problemBanner, toast } from './dom.js';
import { consentPrompt, dateZh } from './consent.js';
import {
  dateTime, fenToText, fieldError, interestExample, kvRow, loadingBox, newKey, parseInputYuan, rateBlock,
  setFieldError, sleep, toFen, yuan,
} from './credit-ui.js';

/** 接受额度后逐步展示每一步的间隔。 */
const STEP_MS = 320;
/** 全部步骤展示完后停留多久再显示额度。 */
const STEP_HOLD_MS = 900;

// ---------- 金额与日期 ----------

const minFen = (a, b) => (a < b ? a : b);
/** 利率说明：供应链融资每日利息 = 本金 × 日利率。 */
const DAILY_NOTE = '按实际用款天数计息';

/** '2026-11' → '2026年11月'。 */
function monthZh(value) {
  const [y, m] = String(value || '').split('-');
  return y && m ? `${y}年${Number(m)}月` : String(value || '—');
}

/** 东八区今天（YYYY-MM-DD）。 */
function todayChina() {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' })
      .formatToParts(new Date())
      .map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}-${p.day}`;
}

const reducedMotion = () => window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches;
const enc = encodeURIComponent;

// ---------- 文案 ----------

const CONSENTS = {
  SCF_DISTRIBUTOR: {
    purpose: 'SCF_DISTRIBUTOR',
    title: '供应链融资信息查询授权',
    why: '办理供应链融资需要向核心企业（A集团）确认您登记为哪些经销商的负责人，核验您的身份（公安实名信息），并在接受额度时查询您的涉诉与执行信息。本行不会向核心企业提供您的个人信息。',
  },
  LOAN_CREDIT_REPORT: {
    purpose: 'LOAN_CREDIT_REPORT',
    title: '征信查询授权',
    why: '按照中国人民银行征信管理要求，查询您的个人信用报告须单独授权。本行仅为确认本次经销商订货贷额度（负责人资信核查）及贷后管理查询，不作他用。',
  },
};

/** 403 consent.required 所缺授权的用途：优先取问题体的 purpose，否则按中文说明判断。 */
function consentPurpose(err, fallback) {
  const p = err.problem && err.problem.purpose;
  const code = typeof p === 'string' ? p : p && p.code;
  if (code && CONSENTS[code]) return code;
  const detail = String(err.detail || '');
  if (/征信/.test(detail)) return 'LOAN_CREDIT_REPORT';
  if (/供应链/.test(detail)) return 'SCF_DISTRIBUTOR';
  return fallback;
}

const LINE_BADGE = {
  active: 'badge badge--ok',
  lowered: 'badge badge--warn',
  frozen: 'badge badge--danger',
  expired: 'badge badge--warn',
  closed: 'badge',
};
const SEVERITY = {
  watch: ['关注', 'badge badge--info'],
  lower: ['调减', 'badge badge--warn'],
  freeze: ['冻结', 'badge badge--danger'],
};
const STEP_ICON = { done: '✓', failed: '✕', pending: '' };
const STEP_STATE_TEXT = { done: '已完成', failed: '未通过', pending: '待处理', running: '进行中' };

// ---------- 小组件 ----------

/** 成功结果（醒目、读屏播报）。 */
function resultBox(kind, title, ...lines) {
  return el(
    'div',
    { class: 'scf-result', role: 'status', dataset: { testid: 'supply-result', kind } },
    el('span', { class: 'scf-result__icon', 'aria-hidden': 'true' }, '✓'),
    el('div', { class: 'scf-result__body' }, el('p', { class: 'scf-result__title' }, title), lines.filter(Boolean).map((l) => el('p', { class: 'small' }, l))),
  );
}

function noticeBox(notice) {
  if (!notice) return null;
  if (notice.node) return el('div', { class: 'loan-notice' }, notice.node);
  return el('div', { class: 'loan-notice' }, problemBanner(notice, { variant: 'warn' }));
}

/** 接受额度的各步骤（时间线，样式同闪电贷审批时间线）。 */
function stepItem(s) {
  const state = s.state || 'pending';
  return el(
    'li',
    { class: `timeline__item timeline__item--${state}`, dataset: { testid: 'accept-step', step: s.step, state } },
    el('span', { class: 'timeline__icon', 'aria-hidden': 'true' }, state === 'running' ? el('span', { class: 'spinner timeline__spinner' }) : STEP_ICON[state] || ''),
    el(
      'div',
      { class: 'timeline__body' },
      el(
        'div',
        { class: 'timeline__head' },
        el('span', { class: 'timeline__label' }, s.label || s.step),
        el('span', { class: 'visually-hidden' }, `，${STEP_STATE_TEXT[state] || state}`),
        state === 'done' || state === 'failed'
          ? el('span', { class: 'timeline__time' }, `${Number(s.ms) || 0} 毫秒`)
          : el('span', { class: 'timeline__time' }, STEP_STATE_TEXT[state] || ''),
      ),
      s.detail && (state === 'done' || state === 'failed') ? el('p', { class: 'timeline__detail' }, s.detail) : null,
    ),
  );
}

function stepsList(steps) {
  return el('ol', { class: 'timeline', dataset: { testid: 'accept-steps' } }, steps.map(stepItem));
}

// ---------- 页面 ----------

function page(host) {
  let view = 0; // 每次切换视图加一，过期的异步结果据此作废
  let data = null; // GET /api/v1/me/supply
  let current = null; // { uscc, line, orders, ordersError }
  let opening = null; // 刚接受额度时的应答：{ uscc, result }，显示在额度页顶部

  function reset(state) {
    view += 1;
    host.dataset.state = state;
    for (const open of document.querySelectorAll('dialog.scf-sheet')) open.close();
    return view;
  }

  function setUrl(uscc) {
    const url = uscc ? `${location.pathname}?uscc=${enc(uscc)}` : location.pathname;
    if (`${location.pathname}${location.search}` !== url) history.replaceState(null, '', url);
  }

  function distributors() {
    return (data && data.distributors) || [];
  }

  async function load(notice) {
    const my = reset('loading');
    replace(host, loadingBox('正在向核心企业确认您名下的经销商…'));
    let d;
    try {
      d = await api('/api/v1/me/supply');
    } catch (err) {
      if (err.redirecting || my !== view) return;
      if (err.code === 'consent.required') {
        showConsent(CONSENTS[consentPurpose(err, 'SCF_DISTRIBUTOR')]);
        return;
      }
      host.dataset.state = 'error';
      replace(host, problemBanner(err, { onRetry: () => load() }));
      return;
    }
    if (my !== view) return;
    data = d;
    const list = distributors();
    const wanted = new URLSearchParams(location.search).get('uscc');
    const withLine = (u) => list.find((x) => x.uscc === u && x.stage === 'line' && x.line);
    if (wanted && withLine(wanted)) return showLine(wanted, notice);
    if (list.length === 1 && withLine(list[0].uscc)) return showLine(list[0].uscc, notice);
    return showList(notice);
  }

  function showConsent(what) {
    reset('consent');
    const consentHost = el('div', { dataset: { testid: 'supply-consent', purpose: what.purpose } });
    replace(host, consentHost);
    consentPrompt(consentHost, what, () => load());
  }

  // ----- 名下经销商 -----

  function showList(notice) {
    reset('list');
    setUrl(null);
    const list = distributors();
    replace(
      host,
      noticeBox(notice),
      list.length
        ? el('div', { class: 'stack', dataset: { testid: 'supply-list' } }, list.map(distributorCard))
        : el(
          'section',
          { class: 'card state-panel', dataset: { testid: 'supply-empty' } },
          el('div', { class: 'state-panel__icon', 'aria-hidden': 'true' }, 'i'),
          el('h2', { class: 'state-panel__title' }, '暂无可办理的经销商'),
          el('p', { class: 'state-panel__text' }, '核心企业未登记您为其经销商的负责人，或本行尚未对您的经销商开展预授信。如有疑问，请联系核心企业的渠道经理或本行客户经理。'),
        ),
    );
  }

  function distributorHead(d) {
    return el(
      'div',
      { class: 'scf-dist' },
      el('h2', { class: 'scf-dist__name', id: `dist-${d.uscc}` }, d.name),
      el(
        'p',
        { class: 'scf-dist__meta' },
        `${d.enterprise}经销商 · ${d.city} · 合作 ${d.tenure_months} 个月`,
      ),
      el('p', { class: 'scf-dist__uscc mono', title: '统一社会信用代码' }, d.uscc),
    );
  }

  function distributorCard(d) {
    switch (d.stage) {
      case 'offered':
        return offerCard(d);
      case 'line':
        return lineSummaryCard(d);
      case 'declined':
        return el(
          'section',
          { class: 'card decline', dataset: { testid: 'supply-distributor', uscc: d.uscc, stage: d.stage }, 'aria-labelledby': `dist-${d.uscc}` },
          distributorHead(d),
          el('div', { class: 'offer__head scf-stage' }, el('span', { class: 'offer__icon offer__icon--declined', 'aria-hidden': 'true' }, '!'), el('p', { class: 'scf-stage__title' }, '暂未获得预授信额度')),
          d.reasons && d.reasons.length
            ? [el('p', { class: 'decline__lead' }, '主要原因：'), el('ul', { class: 'decline__reasons', dataset: { testid: 'supply-decline-reasons' } }, d.reasons.map((r) => el('li', {}, r)))]
            : null,
          el('p', { class: 'small muted' }, '预授信依据核心企业提供的订货、退货与回款数据按月评估；经营情况变化后，本行将在下次评估时重新核定。'),
        );
      case 'refused':
        return el(
          'section',
          { class: 'card decline', dataset: { testid: 'supply-distributor', uscc: d.uscc, stage: d.stage }, 'aria-labelledby': `dist-${d.uscc}` },
          distributorHead(d),
          el('div', { class: 'offer__head scf-stage' }, el('span', { class: 'offer__icon offer__icon--declined', 'aria-hidden': 'true' }, '!'), el('p', { class: 'scf-stage__title' }, '额度确认未通过')),
          el('p', {}, '很抱歉，经核查负责人的征信与涉诉信息，本次额度暂未能开通。'),
          el('p', { class: 'small muted' }, '本结果由系统依据您授权查询的信息自动作出。根据《个人信息保护法》第二十四条，您有权要求本行予以说明；如有疑问，请联系本行客户经理。'),
        );
      case 'none':
      default:
        return el(
          'section',
          { class: 'card', dataset: { testid: 'supply-distributor', uscc: d.uscc, stage: d.stage }, 'aria-labelledby': `dist-${d.uscc}` },
          distributorHead(d),
          el('p', { class: 'muted' }, '本行尚未完成对该经销商的评估，请稍后再来查看。'),
        );
    }
  }

  function lineSummaryCard(d) {
    const l = d.line;
    const open = el('a', { class: 'btn btn--primary btn--block', href: `?uscc=${enc(d.uscc)}`, dataset: { testid: 'supply-open-line' } }, '进入额度');
    open.addEventListener('click', (e) => {
      e.preventDefault();
      showLine(d.uscc);
    });
    return el(
      'section',
      { class: 'card', dataset: { testid: 'supply-distributor', uscc: d.uscc, stage: d.stage, status: l ? l.status : '' }, 'aria-labelledby': `dist-${d.uscc}` },
      el('div', { class: 'cluster cluster--between scf-dist-row' }, distributorHead(d), l ? el('span', { class: LINE_BADGE[l.status] || 'badge' }, l.status_text) : null),
      l
        ? [
          l.status_reason ? el('p', { class: 'line-card__reason', role: 'note' }, l.status_reason) : null,
          el(
            'dl',
            { class: 'profile-list' },
            kvRow('额度', `${yuan(l.limit)} 元`),
            kvRow('待还本金', `${yuan(l.outstanding)} 元`),
          ),
          open,
        ]
        : el('p', { class: 'muted' }, '该经销商的额度由其他负责人开通，您无法查看。'),
    );
  }

  // ----- 要约与接受 -----

  function offerCard(d) {
    const o = d.offer;
    const problem = el('div', { class: 'loan-problem' });
    const button = el('button', { class: 'btn btn--primary btn--block scf-accept', type: 'button', dataset: { testid: 'supply-accept' } }, '接受额度');
    const ui = { button, problem };
    button.addEventListener('click', () => accept(d, ui));
    const example = interestExample(o.daily_rate);
    return el(
      'section',
      { class: 'card offer scf-offer', dataset: { testid: 'supply-offer', uscc: d.uscc, stage: d.stage }, 'aria-labelledby': `dist-${d.uscc}` },
      distributorHead(d),
      el('p', { class: 'offer__limit-label' }, '预授信额度（元）'),
      el('p', { class: 'offer__limit', dataset: { testid: 'offer-limit', amount: o.limit } }, yuan(o.limit)),
      el('ul', { class: 'scf-tags' }, el('li', {}, '随借随还'), el('li', {}, '按日计息'), el('li', {}, `期限 ${o.term_months} 个月`), el('li', {}, '无其他费用')),
      rateBlock(o, 'offer', DAILY_NOTE),
      el(
        'div',
        { class: 'loan-forbidden scf-purpose', role: 'note', dataset: { testid: 'supply-purpose' } },
        el('strong', {}, `资金用途：仅限向${d.enterprise}支付订货款（受托支付）`),
        el('p', {}, `每笔用款由本行直接划付至${d.enterprise}的收款账户，不转入您的账户。`),
      ),
      el(
        'dl',
        { class: 'profile-list offer__facts' },
        kvRow('额度期限', `${o.term_months} 个月，额度内循环使用`, 'offer-term'),
        kvRow('还款方式', '随借随还 按日计息，可随时提前还款，无违约金', 'offer-repayment'),
        example ? kvRow('利息示例', example) : null,
        kvRow('评级', o.grade, 'offer-grade'),
        kvRow('请于此日前接受', dateZh(o.expires_on), 'offer-expires'),
      ),
      el(
        'details',
        { class: 'scf-contract', dataset: { testid: 'supply-contract-terms' } },
        el('summary', {}, '查看《供应链融资额度合同》'),
        el('div', { class: 'contract__text', tabindex: '0', role: 'region', 'aria-label': '合同正文', dataset: { testid: 'contract-text' } }, o.contract.text),
        el('p', { class: 'contract__hash' }, `版本 ${o.contract.version} · 合同摘要（SM3） `, el('code', { class: 'mono', dataset: { testid: 'contract-sm3' } }, o.contract.sm3)),
      ),
      el('p', { class: 'small muted offer__note' }, '点击「接受额度」即表示您已阅读并同意上述合同。本行将核验您的身份，并经您授权查询您的征信与涉诉信息，核查通过后额度立即开通。年化利率按内部收益率（IRR）法计算，依据中国人民银行公告〔2021〕第3号明示。'),
      problem,
      button,
    );
  }

  async function accept(d, ui) {
    const my = view;
    if (ui.button.disabled) return;
    ui.button.disabled = true;
    ui.button.textContent = '正在核验并开通…';
    ui.button.setAttribute('aria-busy', 'true');
    replace(ui.problem);
    let result;
    try {
      result = await api(`/api/v1/me/supply/${enc(d.uscc)}/accept`, { method: 'POST', body: { contract_sm3: d.offer.contract.sm3 } });
    } catch (err) {
      ui.button.disabled = false;
      ui.button.textContent = '接受额度';
      ui.button.removeAttribute('aria-busy');
      if (err.redirecting || my !== view) return;
      if (err.code === 'consent.required') {
        const what = CONSENTS[consentPurpose(err, 'LOAN_CREDIT_REPORT')];
        const consentHost = el('div', { dataset: { testid: 'supply-consent', purpose: what.purpose } });
        replace(ui.problem, consentHost);
        consentPrompt(consentHost, what, () => {
          replace(ui.problem);
          accept(d, ui);
        });
        consentHost.scrollIntoView({ block: 'nearest' });
        return;
      }
      // 合同或要约已变：重新查询，展示最新的要约与说明
      if (['supply.contract_changed', 'supply.offer_closed', 'supply.offer_expired'].includes(err.code)) {
        load(err);
        return;
      }
      replace(ui.problem, problemBanner(err));
      return;
    }
    if (my !== view) return;
    showAcceptance(d, result);
  }

  /** 逐步展示接受额度的各步骤，然后显示额度（或未通过的原因）。 */
  async function showAcceptance(d, result) {
    const my = reset('accepting');
    const steps = result.steps || [];
    if (result.outcome === 'opened' && !steps.length) {
      // 此前已开通：直接进入额度
      showLine(d.uscc, null, result.line);
      return;
    }
    const shown = steps.map((s) => ({ ...s, state: 'pending' }));
    const list = el('ol', { class: 'timeline', dataset: { testid: 'accept-steps' } });
    const announce = el('p', { class: 'visually-hidden', 'aria-live': 'polite', dataset: { testid: 'accept-announce' } });
    const status = el('p', { class: 'loan-live', dataset: { testid: 'accept-status' } }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), '正在确认额度…');
    const card = el(
      'section',
      { class: 'card timeline-card', dataset: { testid: 'supply-accept-result', outcome: result.outcome, state: 'running' }, 'aria-labelledby': 'accept-title' },
      el('div', { class: 'card__header' }, el('h2', { id: 'accept-title', class: 'card__title' }, '额度确认'), el('span', { class: 'small muted' }, d.name)),
      status,
      list,
      announce,
    );
    const tail = el('div');
    replace(host, card, tail);
    const draw = () => replace(list, shown.map(stepItem));
    draw();
    const fast = reducedMotion();
    for (let i = 0; i < shown.length; i += 1) {
      shown[i] = { ...shown[i], state: 'running' };
      draw();
      if (!fast) await sleep(STEP_MS);
      if (my !== view) return;
      shown[i] = { ...steps[i] };
      draw();
      announce.textContent = `${steps[i].label}：${STEP_STATE_TEXT[steps[i].state] || steps[i].state}`;
    }
    card.dataset.state = 'done';
    const ms = Number(result.decision_ms) || 0;
    if (result.outcome === 'opened') {
      replace(status, el('span', { class: 'loan-checks__ok', 'aria-hidden': 'true' }, '✓'), `额度已开通，系统用时 ${ms} 毫秒`);
      status.setAttribute('role', 'status');
      if (!fast) await sleep(STEP_HOLD_MS);
      if (my !== view) return;
      opening = { uscc: d.uscc, result };
      toast('额度已开通');
      showLine(d.uscc, null, result.line);
      return;
    }
    // 未通过：原因与说明留在本页
    host.dataset.state = 'declined';
    replace(status, `额度确认未通过（系统用时 ${ms} 毫秒）`);
    status.setAttribute('role', 'status');
    const back = el('button', { class: 'btn btn--block', type: 'button', dataset: { testid: 'supply-back' } }, '返回');
    back.addEventListener('click', () => load());
    replace(
      tail,
      el(
        'section',
        { class: 'card decline', dataset: { testid: 'supply-refused' } },
        el('div', { class: 'offer__head' }, el('span', { class: 'offer__icon offer__icon--declined', 'aria-hidden': 'true' }, '!'), el('h2', { class: 'offer__title' }, '很抱歉，本次额度暂未能开通')),
        result.reasons && result.reasons.length
          ? [el('p', { class: 'decline__lead' }, '主要原因：'), el('ul', { class: 'decline__reasons', dataset: { testid: 'supply-refused-reasons' } }, result.reasons.map((r) => el('li', {}, r)))]
          : null,
        el('p', { class: 'small muted' }, '本结果由系统依据您授权查询的信息自动作出。根据《个人信息保护法》第二十四条，您有权要求本行予以说明；如有疑问，请联系本行客户经理。'),
        back,
      ),
    );
  }

  // ----- 额度 -----

  async function showLine(uscc, notice, preset = null) {
    const my = reset('loading');
    setUrl(uscc);
    let line = preset;
    if (!line) {
      replace(host, loadingBox('正在查询额度…'));
      try {
        line = await api(`/api/v1/me/supply/${enc(uscc)}/line`);
      } catch (err) {
        if (err.redirecting || my !== view) return;
        host.dataset.state = 'error';
        replace(host, backLink(), problemBanner(err, { onRetry: () => showLine(uscc) }));
        return;
      }
      if (my !== view) return;
    }
    current = { uscc, line, orders: null, ordersError: null, ordersLoading: true };
    host.dataset.state = 'ready';
    renderLine(notice);
    loadOrders(my);
  }

  function backLink() {
    if (distributors().length <= 1) return null;
    const back = el('button', { class: 'btn btn--ghost btn--s scf-back', type: 'button', dataset: { testid: 'supply-back' } }, '‹ 全部经销商');
    back.addEventListener('click', () => {
      opening = null;
      showList();
    });
    return back;
  }

  async function loadOrders(my) {
    const { uscc } = current;
    current.ordersLoading = true;
    renderOrders();
    let r;
    try {
      r = await api(`/api/v1/me/supply/${enc(uscc)}/orders`);
    } catch (err) {
      if (err.redirecting || my !== view || !current || current.uscc !== uscc) return;
      current.ordersLoading = false;
      current.ordersError = err;
      renderOrders();
      return;
    }
    if (my !== view || !current || current.uscc !== uscc) return;
    current.ordersLoading = false;
    current.ordersError = null;
    current.orders = r;
    renderOrders();
  }

  let ordersHost = null;

  function renderLine(notice, { focus } = {}) {
    const line = current.line;
    ordersHost = el('div');
    replace(
      host,
      backLink(),
      noticeBox(notice),
      openingCard(line),
      statusAlert(line),
      lineCard(line),
      accountCard(line),
      ordersHost,
      repayCard(line),
      sweepCard(line),
      movementsCard(line),
      receiptsCard(line),
      contractCard(line),
    );
    renderOrders();
    if (focus) host.querySelector(focus)?.focus();
    else if (notice) host.querySelector('.loan-notice')?.scrollIntoView({ block: 'nearest' });
  }

  /** 刚接受额度：各步骤留在额度页顶部（可收起）。 */
  function openingCard(line) {
    if (!opening || opening.uscc !== line.uscc) return null;
    const r = opening.result;
    return el(
      'details',
      { class: 'card loan-trail', open: true, dataset: { testid: 'supply-opening' } },
      el('summary', {}, `额度开通过程（系统用时 ${Number(r.decision_ms) || 0} 毫秒）`),
      el('div', { class: 'scf-trail' }, stepsList(r.steps || [])),
    );
  }

  /** 冻结或调减：醒目横幅，写明原因与每条预警信号。 */
  function statusAlert(line) {
    const warned = line.status === 'frozen' || line.status === 'lowered';
    if (!warned) return null;
    const frozen = line.status === 'frozen';
    const warnings = line.warnings || [];
    return el(
      'section',
      { class: `scf-alert scf-alert--${frozen ? 'danger' : 'warn'}`, role: 'alert', 'aria-labelledby': 'scf-alert-title', dataset: { testid: 'supply-line-alert', status: line.status } },
      el(
        'div',
        { class: 'scf-alert__head' },
        el('span', { class: 'scf-alert__icon', 'aria-hidden': 'true' }, frozen ? '❄' : '↓'),
        el('h2', { id: 'scf-alert-title', class: 'scf-alert__title' }, frozen ? '额度已冻结，暂停用款' : `额度已调减至 ${yuan(line.limit)} 元`),
      ),
      el('p', { class: 'scf-alert__reason', dataset: { testid: 'supply-status-reason' } }, '原因：', line.status_reason || '核心企业数据出现预警信号。'),
      el(
        'p',
        { class: 'small' },
        frozen
          ? '已用款项按原合同继续计息，您可随时还款；冻结期间不能用额度支付订单。经营情况好转后，本行将依据核心企业后续数据重新评估。'
          : '已用款项按原合同继续计息还款；调减后的额度仍可用于支付订单。',
      ),
      warnings.length
        ? el(
          'ul',
          { class: 'scf-warnings', dataset: { testid: 'supply-warnings' } },
          warnings.map((w) =>
            el(
              'li',
              { class: 'scf-warning', dataset: { testid: 'supply-warning', action: w.action } },
              el(
                'div',
                { class: 'scf-warning__head' },
                el('strong', {}, w.action_text),
                el('span', { class: 'small' }, `${monthZh(w.closed_month)}数据 · ${dateTime(w.at)}`),
              ),
              el('p', { class: 'small' }, w.action === 'freeze' && w.old_limit === w.new_limit ? `额度 ${yuan(w.old_limit)} 元，冻结后暂停用款` : `额度 ${yuan(w.old_limit)} 元 → ${yuan(w.new_limit)} 元`),
              (w.signals || []).length
                ? el(
                  'ul',
                  { class: 'scf-signals' },
                  w.signals.map((s) => {
                    const [text, cls] = SEVERITY[s.severity] || [s.severity, 'badge'];
                    return el('li', { dataset: { testid: 'supply-signal', signal: s.signal, severity: s.severity } }, el('span', { class: cls }, text), el('span', {}, s.text));
                  }),
                )
                : null,
            ),
          ),
        )
        : null,
    );
  }

  function lineCard(line) {
    const limit = toFen(line.limit) ?? 0n;
    const available = toFen(line.available) ?? 0n;
    const fill = el('span', { class: 'line-bar__fill' });
    fill.style.width = limit > 0n ? `${Number((available * 10000n) / limit) / 100}%` : '0%';
    return el(
      'section',
      { class: 'card line-card', dataset: { testid: 'supply-line', id: line.id, status: line.status, uscc: line.uscc }, 'aria-labelledby': 'line-title' },
      el(
        'div',
        { class: 'card__header' },
        el('h2', { id: 'line-title', class: 'card__title' }, line.distributor),
        el('span', { class: LINE_BADGE[line.status] || 'badge', dataset: { testid: 'supply-line-status' } }, line.status_text),
      ),
      el('p', { class: 'small muted scf-line-sub' }, `${line.enterprise}经销商订货贷 · `, el('span', { class: 'mono' }, line.uscc)),
      el('p', { class: 'line-card__label' }, '可用额度（元）'),
      el('p', { class: 'line-card__available', dataset: { testid: 'supply-available', amount: line.available } }, yuan(line.available)),
      el('span', { class: 'line-bar', role: 'img', 'aria-label': `可用 ${yuan(line.available)} 元，总额度 ${yuan(line.limit)} 元` }, fill),
      el('p', { class: 'line-card__limit small muted' }, '总额度 ', el('span', { dataset: { testid: 'supply-limit', amount: line.limit } }, `${yuan(line.limit)} 元`), ` · 已用 ${yuan(line.principal)} 元`),
      rateBlock(line, 'line', DAILY_NOTE),
      el(
        'dl',
        { class: 'profile-list line-card__facts' },
        kvRow('待还本金', `${yuan(line.principal)} 元`, 'supply-principal', { amount: line.principal }),
        kvRow('应还利息', `${yuan(line.interest_due)} 元`, 'supply-interest', { amount: line.interest_due }),
        kvRow('全部结清需还', `${yuan(line.payoff_amount)} 元`, 'supply-payoff', { amount: line.payoff_amount }),
        kvRow('收款方', `${line.enterprise}（受托支付）`),
        kvRow('额度到期日', dateZh(line.expires_on), 'supply-expires', { opened: line.opened_on }),
      ),
    );
  }

  function accountCard(line) {
    return el(
      'section',
      { class: 'card bank-card', dataset: { testid: 'supply-account', balance: line.account_balance }, 'aria-labelledby': 'account-title' },
      el('span', { class: 'bank-card__icon', 'aria-hidden': 'true' }, '¥'),
      el(
        'div',
        { class: 'bank-card__body' },
        el('h2', { id: 'account-title', class: 'small muted scf-account__label' }, '经销商结算账户（还款账户）'),
        el('strong', { class: 'bank-card__balance', dataset: { testid: 'supply-balance', amount: line.account_balance } }, `余额 ¥${yuan(line.account_balance)}`),
        el('span', { class: 'small muted' }, `销售回款到账时按 ${line.sweep_percent}% 自动还款`),
      ),
    );
  }

  function canDraw(line) {
    return (line.status === 'active' || line.status === 'lowered') && (toFen(line.available) ?? 0n) > 0n;
  }

  function renderOrders() {
    if (!ordersHost || !current) return;
    const line = current.line;
    const refresh = el('button', { class: 'btn btn--s btn--ghost', type: 'button', dataset: { testid: 'supply-orders-refresh' } }, '刷新');
    refresh.addEventListener('click', () => loadOrders(view));
    const drawable = canDraw(line);
    let body;
    if (current.ordersLoading && !current.orders) body = loadingBox(`正在向${line.enterprise}查询待付订单…`);
    else if (current.ordersError) body = problemBanner(current.ordersError, { onRetry: () => loadOrders(view) });
    else {
      const orders = (current.orders && current.orders.orders) || [];
      const today = todayChina();
      body = orders.length
        ? el(
          'ul',
          { class: 'scf-orders', dataset: { testid: 'supply-order-list' } },
          orders.map((o) => {
            const pay = el('button', { class: 'btn btn--primary btn--s', type: 'button', disabled: !drawable, dataset: { testid: 'supply-pay-order', orderNo: o.order_no } }, '用额度支付');
            pay.addEventListener('click', () => drawSheet(o));
            const overdue = o.due_on < today;
            return el(
              'li',
              { class: 'scf-order', dataset: { testid: 'supply-order', orderNo: o.order_no, outstanding: o.outstanding } },
              el('div', { class: 'scf-order__head' }, el('span', { class: 'scf-order__no mono' }, o.order_no), el('span', { class: 'scf-order__amount' }, `¥${yuan(o.outstanding)}`)),
              el('p', { class: 'scf-order__goods' }, o.goods),
              el(
                'div',
                { class: 'scf-order__foot' },
                el(
                  'span',
                  { class: 'scf-order__meta' },
                  `下单 ${o.placed_on} · `,
                  el('span', { class: overdue ? 'scf-order__due is-overdue' : 'scf-order__due' }, `${overdue ? '已到期' : '到期'} ${o.due_on}`),
                  o.outstanding !== o.amount ? ` · 订单金额 ${yuan(o.amount)}` : null,
                ),
                pay,
              ),
            );
          }),
        )
        : el('p', { class: 'muted small', dataset: { testid: 'supply-orders-empty' } }, `${line.enterprise}暂无您的待付订单。`);
    }
    replace(
      ordersHost,
      el(
        'section',
        { class: 'card', dataset: { testid: 'supply-orders', state: current.ordersError ? 'error' : current.ordersLoading ? 'loading' : 'ready' }, 'aria-labelledby': 'orders-title', 'aria-busy': current.ordersLoading ? 'true' : 'false' },
        el(
          'div',
          { class: 'card__header' },
          el('h2', { id: 'orders-title', class: 'card__title' }, `${line.enterprise}待付订单`),
          el('span', { class: 'cluster' }, current.orders && current.orders.as_of ? el('span', { class: 'small muted' }, `截至 ${current.orders.as_of}`) : null, refresh),
        ),
        el('p', { class: 'small muted scf-orders__note' }, `用额度支付的款项由本行直接划付至${line.enterprise}（受托支付），不经过您的账户。`),
        !drawable
          ? el('p', { class: 'small scf-orders__blocked', dataset: { testid: 'supply-draw-blocked' } }, line.status === 'frozen' ? '额度已冻结，暂不能用额度支付订单。' : line.status === 'lowered' || line.status === 'active' ? '可用额度为 0，请先还款恢复额度。' : `额度${line.status_text}，不能用款。`)
          : null,
        body,
      ),
    );
  }

  // ----- 用额度支付订单（受托支付）：确认单 -----

  function drawSheet(order) {
    const my = view;
    const line = current.line;
    const availableFen = toFen(line.available) ?? 0n;
    const outstandingFen = toFen(order.outstanding) ?? 0n;
    const maxFen = minFen(availableFen, outstandingFen);
    // 一次支付意图：一个键。确认单里的重试都用它；关掉确认单，这个意图就结束了。
    let intent = null; // { key, body, pending }
    let busy = false;
    let settled = false;

    const input = el('input', {
      id: 'draw-amount', class: 'input', type: 'text', inputmode: 'decimal', autocomplete: 'off', value: fenToText(maxFen),
      'aria-describedby': 'draw-amount-hint draw-amount-error', dataset: { testid: 'supply-draw-amount' },
    });
    const error = fieldError('draw-amount-error');
    const problem = el('div', { class: 'sheet__problem' });
    const confirm = el('button', { class: 'btn btn--primary btn--block', type: 'submit', dataset: { testid: 'supply-draw-confirm' } }, '确认支付');
    const cancel = el('button', { class: 'btn btn--block', type: 'button', dataset: { testid: 'supply-draw-cancel' } }, '取消');
    const form = el(
      'form',
      { class: 'stack stack--s', novalidate: true },
      el('label', { class: 'field__label', for: 'draw-amount' }, '支付金额（元）'),
      input,
      el('p', { id: 'draw-amount-hint', class: 'field__hint' }, `不超过订单未付金额 ${yuan(order.outstanding)} 元与可用额度 ${yuan(line.available)} 元；可只支付一部分。`),
      error,
      el('p', { class: 'small muted sheet__note' }, `确认后本行从您的额度放款，直接支付至${line.enterprise}，从放款日起按日计息。若网络中断，可在此重新提交，不会重复支付。`),
      problem,
      el('div', { class: 'stack stack--s' }, confirm, cancel),
    );
    const sheet = el(
      'dialog',
      { class: 'sheet scf-sheet', dataset: { testid: 'supply-draw-sheet', state: 'confirm', orderNo: order.order_no }, 'aria-labelledby': 'draw-sheet-title' },
      el('div', { class: 'sheet__grip', 'aria-hidden': 'true' }),
      el('h2', { id: 'draw-sheet-title', class: 'sheet__title' }, '用额度支付订单'),
      el(
        'dl',
        { class: 'profile-list sheet__facts' },
        kvRow('订单号', el('span', { class: 'mono' }, order.order_no)),
        kvRow('商品', order.goods),
        kvRow('订单未付', `¥${yuan(order.outstanding)}`, 'supply-draw-outstanding'),
        kvRow('收款方', `${line.enterprise}（受托支付）`),
        kvRow('可用额度', `¥${yuan(line.available)}`),
      ),
      form,
    );

    const close = () => {
      if (busy) return;
      sheet.close();
    };
    cancel.addEventListener('click', close);
    // Esc：提交中不许关（结果未知时关掉会让人以为没付）
    sheet.addEventListener('cancel', (e) => {
      if (busy) e.preventDefault();
    });
    sheet.addEventListener('click', (e) => {
      if (e.target !== sheet) return;
      const r = sheet.getBoundingClientRect();
      if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) close();
    });
    sheet.addEventListener('close', () => {
      sheet.remove();
      // 提交过却没拿到结果：结果可能已变（例如超时但其实已支付），重新查询额度
      if (intent && intent.pending && !settled && my === view) showLine(current.uscc);
    });

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (busy || settled) return;
      if (!intent || !intent.pending) {
        const fen = parseInputYuan(input.value);
        let message = '';
        if (fen === null) message = '请输入正确的金额，最多两位小数。';
        else if (fen <= 0n) message = '请输入支付金额。';
        else if (fen > outstandingFen) message = `支付金额不能超过订单未付金额 ${yuan(order.outstanding)} 元。`;
        else if (fen > availableFen) message = `支付金额不能超过可用额度 ${yuan(line.available)} 元。`;
        setFieldError(input, error, message);
        if (message) {
          input.focus();
          return;
        }
        intent = { key: newKey(), body: { order_no: order.order_no, amount: fenToText(fen) }, pending: false };
      }
      busy = true;
      input.readOnly = true;
      confirm.disabled = true;
      cancel.disabled = true;
      confirm.textContent = '正在支付…';
      sheet.dataset.state = 'submitting';
      replace(problem);
      let res;
      try {
        res = await postIdempotent(`/api/v1/me/supply/${enc(current.uscc)}/draws`, intent.body, intent.key);
      } catch (err) {
        busy = false;
        cancel.disabled = false;
        if (err.redirecting) return;
        if (retryable(err)) {
          // 结果未知：金额锁定，只能用同一个键重新提交
          intent.pending = true;
          sheet.dataset.state = 'retry';
          confirm.disabled = false;
          confirm.textContent = '重新提交';
          replace(problem, problemBanner(err), el('p', { class: 'small muted sheet__note' }, '重新提交会沿用本次支付的编号，服务端最多支付一次。'));
        } else {
          // 对这笔支付的最终答复（如额度已冻结、订单已付清）：本次意图结束
          intent = null;
          input.readOnly = false;
          sheet.dataset.state = 'refused';
          confirm.disabled = false;
          confirm.textContent = '确认支付';
          replace(problem, problemBanner(err));
        }
        return;
      }
      busy = false;
      settled = true;
      sheet.close();
      if (my !== view) return;
      current.line = res.line;
      const m = res.movement || {};
      const confirmed = m.payment_state === 'confirmed';
      const title = `已向${res.line.enterprise}支付 ${yuan(m.amount || intent.body.amount)} 元`;
      const node = resultBox(
        'draw',
        title,
        `订单 ${m.order_no || intent.body.order_no}`,
        confirmed && m.receipt_no ? `${res.line.enterprise}回执号：${m.receipt_no}` : `等待${res.line.enterprise}确认到账`,
        `剩余可用额度 ${yuan(res.line.available)} 元`,
      );
      node.dataset.paymentState = m.payment_state || '';
      if (m.receipt_no) node.dataset.receiptNo = m.receipt_no;
      renderLine({ node });
      loadOrders(view);
    });

    document.body.append(sheet);
    sheet.showModal();
    input.focus();
    input.select();
  }

  // ----- 还款 -----

  function repayCard(line) {
    const owes = (toFen(line.payoff_amount) ?? 0n) > 0n;
    const balanceFen = toFen(line.account_balance) ?? 0n;
    const payoffFen = toFen(line.payoff_amount) ?? 0n;
    let intent = null; // { key, body, pending }
    let busy = false;

    const input = el('input', {
      id: 'repay-amount', class: 'input', type: 'text', inputmode: 'decimal', autocomplete: 'off', placeholder: '0.00',
      'aria-describedby': 'repay-hint repay-error', dataset: { testid: 'supply-repay-amount' },
    });
    const error = fieldError('repay-error');
    const problem = el('div', { class: 'loan-problem' });
    const submit = el('button', { class: 'btn btn--primary btn--block', type: 'submit', disabled: !owes, dataset: { testid: 'supply-repay-submit' } }, '确认还款');
    const payoff = el('button', { class: 'btn btn--block', type: 'button', disabled: !owes || balanceFen < payoffFen, dataset: { testid: 'supply-repay-payoff' } }, `全部结清（${yuan(line.payoff_amount)} 元）`);
    const abandon = el('button', { class: 'btn btn--block btn--ghost', type: 'button', hidden: true, dataset: { testid: 'supply-repay-abandon' } }, '放弃并刷新');

    const lock = (on) => {
      input.readOnly = on;
      submit.disabled = on || !owes;
      payoff.disabled = on || !owes || balanceFen < payoffFen;
    };

    async function send(body) {
      if (busy) return;
      if (!intent || !intent.pending) intent = { key: newKey(), body, pending: false };
      busy = true;
      lock(true);
      submit.textContent = '正在还款…';
      replace(problem);
      const my = view;
      let res;
      try {
        res = await postIdempotent(`/api/v1/me/supply/${enc(current.uscc)}/repayments`, intent.body, intent.key);
      } catch (err) {
        busy = false;
        if (err.redirecting) return;
        if (retryable(err)) {
          intent.pending = true;
          input.readOnly = true;
          submit.disabled = false;
          payoff.disabled = true;
          submit.textContent = '重新提交';
          abandon.hidden = false;
          replace(problem, problemBanner(err), el('p', { class: 'small muted' }, '重新提交会沿用本次还款的编号，服务端最多扣款一次。'));
        } else {
          intent = null;
          lock(false);
          submit.textContent = '确认还款';
          abandon.hidden = true;
          replace(problem, problemBanner(err));
        }
        return;
      }
      busy = false;
      const sent = intent.body;
      intent = null;
      if (my !== view) return;
      current.line = res.line;
      const m = res.movement || {};
      const node = resultBox(
        'repayment',
        `已还款 ${yuan(m.amount || sent.amount || '0')} 元`,
        m.to_principal || m.to_interest ? `归还本金 ${yuan(m.to_principal || '0')} 元 · 利息 ${yuan(m.to_interest || '0')} 元` : null,
        `结算账户余额 ${yuan(res.line.account_balance)} 元 · 待还本金 ${yuan(res.line.principal)} 元`,
      );
      renderLine({ node });
      loadOrders(view);
    }

    const form = el(
      'form',
      { class: 'stack stack--s', novalidate: true, 'aria-labelledby': 'repay-title' },
      el('label', { class: 'field__label', for: 'repay-amount' }, '还款金额（元）'),
      input,
      el('p', { id: 'repay-hint', class: 'field__hint' }, `从结算账户扣款（余额 ${yuan(line.account_balance)} 元）；全部结清需还 ${yuan(line.payoff_amount)} 元（含利息）。先还利息，再还本金，提前还款不收费用。`),
      error,
      problem,
      submit,
      payoff,
      abandon,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (intent && intent.pending) {
        send(intent.body);
        return;
      }
      const fen = parseInputYuan(input.value);
      let message = '';
      if (fen === null) message = '请输入正确的金额，最多两位小数。';
      else if (fen <= 0n) message = '请输入还款金额。';
      else if (fen > payoffFen) message = `还款金额不能超过全部结清金额 ${yuan(line.payoff_amount)} 元。`;
      else if (fen > balanceFen) message = `结算账户余额不足（${yuan(line.account_balance)} 元）。`;
      setFieldError(input, error, message);
      if (message) {
        input.focus();
        return;
      }
      send({ amount: fenToText(fen) });
    });
    payoff.addEventListener('click', () => send({ payoff: true }));
    abandon.addEventListener('click', () => {
      intent = null;
      showLine(current.uscc);
    });

    return el(
      'section',
      { class: 'card money-card', dataset: { testid: 'supply-repay' }, 'aria-labelledby': 'repay-title' },
      el('h2', { id: 'repay-title', class: 'card__title' }, '还款'),
      !owes ? el('p', { class: 'small muted', dataset: { testid: 'supply-settled' } }, '当前没有待还款项。用额度支付订单后，可随时从结算账户还款。') : null,
      owes && balanceFen < payoffFen ? el('p', { class: 'small muted' }, '结算账户余额不足以全部结清，可先部分还款，或等待销售回款到账后自动还款。') : null,
      owes ? form : null,
    );
  }

  // ----- 销售回款自动还款比例 -----

  function sweepCard(line) {
    const input = el('input', {
      id: 'sweep-percent', class: 'input scf-sweep__input', type: 'number', inputmode: 'numeric', min: '0', max: '100', step: '1',
      value: String(line.sweep_percent), 'aria-describedby': 'sweep-hint sweep-error', dataset: { testid: 'supply-sweep-percent' },
    });
    const error = fieldError('sweep-error');
    const result = el('p', { class: 'small scf-sweep__result', role: 'status', 'aria-live': 'polite', dataset: { testid: 'supply-sweep-result' } });
    const save = el('button', { class: 'btn btn--primary', type: 'submit', dataset: { testid: 'supply-sweep-save' } }, '保存');
    const presets = [0, 30, 50, 100].map((p) => {
      const b = el('button', { class: 'btn btn--s', type: 'button', 'aria-pressed': String(p === Number(line.sweep_percent)), dataset: { testid: 'supply-sweep-preset', percent: String(p) } }, p === 0 ? '关闭' : `${p}%`);
      b.addEventListener('click', () => {
        input.value = String(p);
        input.dispatchEvent(new Event('input'));
      });
      return b;
    });
    input.addEventListener('input', () => {
      for (const b of presets) b.setAttribute('aria-pressed', String(b.dataset.percent === input.value.trim()));
    });
    const form = el(
      'form',
      { class: 'stack stack--s', novalidate: true },
      el('label', { class: 'field__label', for: 'sweep-percent' }, '销售回款自动还款比例（%）'),
      el('div', { class: 'scf-sweep__row' }, input, el('span', { class: 'scf-sweep__unit', 'aria-hidden': 'true' }, '%'), save),
      el('div', { class: 'cluster', role: 'group', 'aria-label': '常用比例' }, presets),
      el('p', { id: 'sweep-hint', class: 'field__hint' }, '每笔销售回款到账结算账户时，按此比例自动归还借款（先还利息，再还本金，不超过应还金额）。设为 0 即关闭自动还款。'),
      error,
      result,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = input.value.trim();
      const percent = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
      const message = Number.isInteger(percent) && percent >= 0 && percent <= 100 ? '' : '请输入 0 至 100 之间的整数。';
      setFieldError(input, error, message);
      if (message) {
        input.focus();
        return;
      }
      const my = view;
      save.disabled = true;
      save.textContent = '正在保存…';
      result.textContent = '';
      try {
        const updated = await api(`/api/v1/me/supply/${enc(current.uscc)}/sweep`, { method: 'PUT', body: { percent } });
        if (my !== view) return;
        current.line = updated;
        renderLine(null, { focus: '[data-testid="supply-sweep-percent"]' });
        const again = host.querySelector('[data-testid="supply-sweep-result"]');
        if (again) again.textContent = percent === 0 ? '已关闭销售回款自动还款。' : `已保存：每笔销售回款的 ${percent}% 将自动用于还款。`;
      } catch (err) {
        if (err.redirecting) return;
        save.disabled = false;
        save.textContent = '保存';
        if (err.code === 'supply.invalid_sweep') setFieldError(input, error, err.detail);
        else replace(result, problemBanner(err));
      }
    });
    return el(
      'section',
      { class: 'card scf-sweep', dataset: { testid: 'supply-sweep', percent: String(line.sweep_percent) }, 'aria-labelledby': 'sweep-title' },
      el('h2', { id: 'sweep-title', class: 'card__title' }, '销售回款自动还款'),
      form,
    );
  }

  // ----- 记录 -----

  function movementsCard(line) {
    const items = line.movements || [];
    return el(
      'section',
      { class: 'card', dataset: { testid: 'supply-movements' }, 'aria-labelledby': 'mv-title' },
      el('div', { class: 'card__header' }, el('h2', { id: 'mv-title', class: 'card__title' }, '用款与还款记录'), el('span', { class: 'small muted' }, `${items.length} 笔`)),
      items.length
        ? el(
          'ul',
          { class: 'tx-list' },
          items.map((m) => {
            const draw = m.kind === 'draw';
            const title = draw ? '支付订货款' : m.source === 'sweep' ? '销售回款自动还款' : '主动还款';
            let detail;
            if (draw) {
              const state = m.payment_state === 'confirmed'
                ? el('span', { class: 'badge badge--ok' }, '已到账')
                : el('span', { class: 'badge badge--warn' }, `等待${line.enterprise}确认`);
              detail = [el('span', {}, `订单 ${m.order_no || '—'} · 收款方 ${m.payee || line.enterprise}`), el('span', { class: 'scf-mv__state' }, state, m.receipt_no ? ` 回执号 ${m.receipt_no}` : null)];
            } else {
              detail = el('span', {}, `本金 ${yuan(m.to_principal || '0')} · 利息 ${yuan(m.to_interest || '0')}`);
            }
            return el(
              'li',
              { class: `tx tx--${m.kind}`, dataset: { testid: 'supply-movement', kind: m.kind, id: m.id, amount: m.amount, paymentState: m.payment_state || '', source: m.source || '' } },
              el('div', { class: 'tx__head' }, el('span', { class: 'tx__kind' }, title), el('span', { class: 'tx__amount' }, `${draw ? '' : '−'}${yuan(m.amount)}`)),
              el('div', { class: 'tx__meta' }, el('span', {}, dateTime(m.at)), detail),
            );
          }),
        )
        : el('p', { class: 'muted small' }, '暂无用款或还款记录。'),
    );
  }

  function receiptsCard(line) {
    const items = line.receipts || [];
    if (!items.length) return null;
    return el(
      'section',
      { class: 'card', dataset: { testid: 'supply-receipts' }, 'aria-labelledby': 'rc-title' },
      el('div', { class: 'card__header' }, el('h2', { id: 'rc-title', class: 'card__title' }, '销售回款'), el('span', { class: 'small muted' }, `最近 ${items.length} 笔`)),
      el(
        'ul',
        { class: 'tx-list' },
        items.map((r) =>
          el(
            'li',
            { class: 'tx', dataset: { testid: 'supply-receipt', reference: r.reference } },
            el('div', { class: 'tx__head' }, el('span', { class: 'tx__kind' }, '回款到账'), el('span', { class: 'tx__amount' }, `+${yuan(r.amount)}`)),
            el('div', { class: 'tx__meta' }, el('span', {}, dateTime(r.at)), el('span', {}, (toFen(r.swept) ?? 0n) > 0n ? `自动还款 ${yuan(r.swept)}` : '未自动还款')),
          ),
        ),
      ),
    );
  }

  function contractCard(line) {
    const body = el('div', { class: 'scf-trail', 'aria-live': 'polite' });
    const details = el(
      'details',
      { class: 'card loan-trail', dataset: { testid: 'supply-contract' } },
      el('summary', {}, '已签合同'),
      body,
    );
    let loaded = false;
    details.addEventListener('toggle', async () => {
      if (!details.open || loaded) return;
      loaded = true;
      replace(body, loadingBox('正在载入合同…'));
      try {
        const c = await api(`/api/v1/me/supply/${enc(line.uscc)}/contract`);
        replace(
          body,
          el('p', { class: 'small muted' }, `版本 ${c.version} · 接受时间 ${dateTime(c.accepted_at)}`),
          el('div', { class: 'contract__text', tabindex: '0', role: 'region', 'aria-label': '合同正文', dataset: { testid: 'supply-contract-text' } }, c.text),
          el('p', { class: 'contract__hash' }, '合同摘要（SM3） ', el('code', { class: 'mono' }, c.sm3)),
        );
      } catch (err) {
        loaded = false;
        if (!err.redirecting) replace(body, problemBanner(err));
      }
    });
    return details;
  }

  return { load };
}

boot(async (_me, root) => {
  await page(root.querySelector('[data-supply="body"]')).load();
});
