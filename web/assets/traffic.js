// 便民服务平台 · 交通罚没（ES module）
//
// 列表（/citizen/traffic/）：驾驶证、名下车辆、违法记录（待缴在前，可多选）、缴款记录；底部固定栏显示
// 所选罚款合计、付款账户与“缴款”按钮。数据经统一接入标准向交管局查询，需“交通违法查询与缴款”授权
// （403 consent.required → 授权引导，同意后重新查询）。
//
// 缴款：点“缴款”弹出确认单，点“确认缴款”才提交。每一次缴款意图只生成一个 Idempotency-Key：
// 网络失败或超时后在确认单里“重新提交”沿用同一个键，服务端据此最多扣款一次（重试得到同一张回单，
// replayed: true）；只有缴款成功或关闭确认单后再次发起，才换新键。
//
// 回单（/citizen/traffic/?receipt=<id>）：电子回单与平台签名；交管部门确认前每 2 秒查询一次，最多 30 秒。
//
// 金额一律是服务端给的元字符串（"200.00"），合计换成整数分（BigInt）相加，从不经浮点。

import { boot } from './shell.js';
import { api, postIdempotent, retryable } from './api.js';
import { el, replace, problemBanner, toast } from './dom.js';
import { consentGate, dateZh, dateTimeZh } from './consent.js';

const POLL_EVERY_MS = 2000;
const POLL_MAX_MS = 30000;
/** 一次缴款最多包含的罚款笔数（与服务端一致）。 */
const MAX_FINES = 20;

// ---------- 金额：元字符串 ↔ 整数分 ----------

/** '200.00' → 20000n；格式不对时抛错（服务端给的金额不该出错，出错就不让缴款）。 */
export function toFen(text) {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(text).trim());
  if (!m) throw new Error(`金额格式错误：${text}`);
  const fen = BigInt(m[2]) * 100n + BigInt((m[3] || '0').padEnd(2, '0'));
  return m[1] ? -fen : fen;
}

/** 20000n → '200.00'（服务端 expected_total 要的格式）。 */
export function fenToText(fen) {
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

/** 东八区日期时间（含秒）：2026年11月29日 14:05:09。 */
function dateTimeSecZh(value) {
  if (!value) return '—';
  return new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: 'long', day: 'numeric',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).format(new Date(value));
}

/** 缴款幂等键：优先 crypto.randomUUID()（安全上下文），否则用 getRandomValues 拼一个同样格式的。 */
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** 签名摘要：3045022100ab…9f3c1e7a。 */
function shortHex(hex) {
  const s = String(hex || '');
  return s.length > 24 ? `${s.slice(0, 12)}…${s.slice(-8)}` : s;
}

// ---------- 文案 ----------

const LICENCE_STATUS = {
  valid: ['正常', 'badge badge--ok'],
  suspended: ['暂扣', 'badge badge--danger'],
  revoked: ['吊销', 'badge badge--danger'],
  expired: ['逾期未换证', 'badge badge--warn'],
};
const VEHICLE_STATUS = {
  normal: ['正常', 'badge badge--ok'],
  inspection_overdue: ['逾期未检验', 'badge badge--warn'],
  mortgaged: ['抵押登记', 'badge badge--info'],
};
const ENERGY = { fuel: '燃油', electric: '纯电动', hybrid: '混合动力' };
const NOTIFY = {
  pending: { text: '已缴款，正在通知交管部门', badge: 'badge badge--warn', short: '通知中' },
  acknowledged: { text: '交管部门已确认', badge: 'badge badge--ok', short: '已确认' },
};
/** 这些错误说明列表已经过时：关掉确认单，重新查询并在页顶说明原因。 */
const RELOAD_CODES = new Set(['traffic.amount_changed', 'traffic.already_paid', 'traffic.unknown_fine', 'consent.required']);

function loadingBox(text) {
  return el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

function kvRow(label, value, testid) {
  return el('div', { class: 'profile-list__row' }, el('dt', {}, label), el('dd', { class: 'profile-list__value', dataset: testid ? { testid } : {} }, value));
}


// ---------- 页面 ----------

function page(host) {
  let view = 0; // 每次切换视图加一，过期的异步结果和轮询据此作废
  let pollTimer = null;
  let data = null; // { violations, account }
  const selected = new Set();

  function reset(state) {
    view += 1;
    const desc = document.querySelector('[data-traffic="desc"]');
    if (desc) desc.hidden = false;
    clearTimeout(pollTimer);
    pollTimer = null;
    host.classList.remove('traffic-body--paybar');
    host.dataset.state = state;
    return view;
  }

  function route() {
    const id = new URLSearchParams(window.location.search).get('receipt');
    if (id) return showReceipt(id);
    return showList();
  }

  // ----- 列表 -----

  async function showList(notice) {
    const my = reset('loading');
    delete host.dataset.view;
    replace(host, loadingBox('正在向交管部门查询…'));
    const [violations, licence, vehicles, account, payments] = await Promise.allSettled([
      api('/api/v1/me/traffic/violations'),
      api('/api/v1/me/traffic/licence'),
      api('/api/v1/me/traffic/vehicles'),
      api('/api/v1/me/bank-account'),
      api('/api/v1/me/traffic/payments'),
    ]);
    if (my !== view) return;
    const gated = consentGate(
      [violations, licence, vehicles, account, payments],
      host,
      {
        purpose: 'SERVICE_TRAFFIC',
        title: '交通违法查询与缴款',
        why: '查询您的交通违法记录、名下机动车和驾驶证记分，并在您确认后缴纳罚款，需要您授权本平台向成都市公安局交通管理局获取这些信息。',
      },
      () => showList(),
    );
    if (gated) return;
    if (violations.status === 'rejected') {
      host.dataset.state = 'error';
      replace(host, problemBanner(violations.reason, { onRetry: () => showList() }));
      return;
    }

    data = {
      violations: violations.value,
      account: account.status === 'fulfilled' ? account.value : null,
      accountError: account.status === 'rejected' ? account.reason : null,
    };
    const ids = new Set(data.violations.violations.filter((v) => v.status === 'unpaid').map((v) => v.id));
    for (const id of [...selected]) if (!ids.has(id)) selected.delete(id);

    const list = renderViolations(data.violations);
    const bar = ids.size ? renderPaybar() : null;
    host.dataset.state = 'ready';
    host.dataset.view = 'list';
    replace(
      host,
      notice ? el('div', { class: 'traffic-notice' }, problemBanner(notice, { variant: 'warn' })) : null,
      renderLicence(licence),
      renderVehicles(vehicles),
      list,
      renderPayments(payments),
      bar,
    );
    if (bar) host.classList.add('traffic-body--paybar');
    updateTotal();
  }

  function sectionError(title, testid, reason, retry) {
    return el('section', { class: 'card', dataset: { testid, state: 'error' } }, el('h2', { class: 'card__title' }, title), problemBanner(reason, { onRetry: retry }));
  }

  function renderLicence(result) {
    if (result.status === 'rejected') {
      const err = result.reason;
      if (err.code === 'traffic.no_licence') {
        return el(
          'section',
          { class: 'card', dataset: { testid: 'licence', state: 'none' } },
          el('h2', { class: 'card__title' }, '驾驶证'),
          el('p', { class: 'muted' }, err.detail),
        );
      }
      return sectionError('驾驶证', 'licence', err, () => showList());
    }
    const l = result.value;
    const [statusText, statusClass] = LICENCE_STATUS[l.status] || [l.status, 'badge'];
    const points = Math.max(0, Math.min(12, Number(l.points_deducted) || 0));
    const fill = el('span', { class: points >= 12 ? 'licence-points__fill licence-points__fill--full' : points >= 6 ? 'licence-points__fill licence-points__fill--warn' : 'licence-points__fill' });
    fill.style.width = `${(points / 12) * 100}%`;
    return el(
      'section',
      { class: 'card licence-card', dataset: { testid: 'licence', status: l.status } },
      el('div', { class: 'card__header' }, el('h2', { class: 'card__title' }, '驾驶证'), el('span', { class: statusClass, dataset: { testid: 'licence-status' } }, statusText)),
      el(
        'div',
        { class: 'licence-points' },
        el(
          'div',
          { class: 'licence-points__head' },
          el('span', { class: 'muted small' }, '本记分周期已扣'),
          el('span', { class: 'licence-points__value', dataset: { testid: 'licence-points' } }, el('strong', {}, String(l.points_deducted)), ' / 12 分'),
        ),
        el('span', { class: 'licence-points__bar', role: 'img', 'aria-label': `已扣 ${l.points_deducted} 分，满分 12 分` }, fill),
        el('p', { class: 'small muted' }, `记分周期至 ${dateZh(l.cycle_end)}`),
      ),
      el(
        'dl',
        { class: 'profile-list licence-facts' },
        kvRow('准驾车型', l.class, 'licence-class'),
        kvRow('证号', el('span', { class: 'mono' }, l.licence_number)),
        kvRow('初次领证', dateZh(l.first_issued)),
        kvRow('有效期至', l.valid_until ? dateZh(l.valid_until) : '长期'),
      ),
    );
  }

  function renderVehicles(result) {
    if (result.status === 'rejected') return sectionError('我的车辆', 'vehicles', result.reason, () => showList());
    const { vehicles } = result.value;
    return el(
      'section',
      { class: 'card', dataset: { testid: 'vehicles' } },
      el('div', { class: 'card__header' }, el('h2', { class: 'card__title' }, '我的车辆'), el('span', { class: 'small muted' }, `${vehicles.length} 辆`)),
      vehicles.length
        ? el(
            'ul',
            { class: 'vehicle-list' },
            vehicles.map((v) => {
              const [statusText, statusClass] = VEHICLE_STATUS[v.status] || [v.status, 'badge'];
              return el(
                'li',
                { class: 'vehicle', dataset: { testid: 'vehicle' } },
                el('span', { class: v.energy === 'fuel' ? 'plate' : 'plate plate--green', dataset: { testid: 'vehicle-plate' } }, v.plate),
                el(
                  'span',
                  { class: 'vehicle__info' },
                  el('span', { class: 'vehicle__name' }, `${v.brand} · ${ENERGY[v.energy] || v.energy}`),
                  el('span', { class: 'small muted' }, '检验有效期至 ', el('span', { class: 'nowrap' }, dateZh(v.inspection_due))),
                ),
                el('span', { class: statusClass }, statusText),
              );
            }),
          )
        : el('p', { class: 'muted' }, '名下暂无登记的机动车。'),
    );
  }

  function renderViolations(v) {
    const unpaid = v.violations.filter((x) => x.status === 'unpaid');
    const paid = v.violations.filter((x) => x.status !== 'unpaid');
    const checkboxes = [];

    const item = (x) => {
      const isUnpaid = x.status === 'unpaid';
      const late = toFen(x.late_fee) > 0n;
      const body = el(
        'span',
        { class: 'violation__body' },
        el(
          'span',
          { class: 'violation__head' },
          el('span', { class: 'violation__desc' }, x.description),
          // 已缴的应缴额为 0，显示当时缴纳的罚款与加处罚款之和
          el('span', { class: 'violation__amount' }, `¥${yuan(isUnpaid ? x.amount_due : fenToText(toFen(x.fine) + toFen(x.late_fee)))}`),
        ),
        el('span', { class: 'violation__meta' }, `${dateTimeZh(x.occurred_at)} · ${x.location}`),
        el(
          'span',
          { class: 'violation__tags' },
          el('span', { class: 'mono' }, x.plate),
          el('span', {}, Number(x.points) > 0 ? `记 ${x.points} 分` : '不记分'),
          el('span', {}, `罚款 ${yuan(x.fine)} 元`),
          late ? el('span', { class: 'violation__late' }, `加处罚款 ${yuan(x.late_fee)} 元`) : null,
        ),
        el('span', { class: 'violation__no' }, `决定书编号 ${x.id}`),
        isUnpaid ? null : el('span', { class: 'violation__paid' }, el('span', { class: 'badge badge--ok' }, '已缴'), x.paid_on ? `缴款日期 ${dateZh(x.paid_on)}` : null),
      );
      if (!isUnpaid) {
        return el('li', { class: 'violation violation--paid', dataset: { testid: 'violation', id: x.id, status: x.status, amount: x.amount_due } }, el('div', { class: 'violation__row' }, body));
      }
      const box = el('input', {
        type: 'checkbox',
        class: 'violation__check',
        dataset: { testid: 'violation-select', id: x.id },
        'aria-label': `选择：${x.description}，应缴 ${x.amount_due} 元`,
      });
      box.checked = selected.has(x.id);
      box.addEventListener('change', () => {
        if (box.checked && selected.size >= MAX_FINES) {
          box.checked = false;
          toast(`一次最多缴纳 ${MAX_FINES} 笔罚款`);
          return;
        }
        if (box.checked) selected.add(x.id);
        else selected.delete(x.id);
        li.classList.toggle('is-selected', box.checked);
        updateTotal();
      });
      checkboxes.push(box);
      const li = el(
        'li',
        { class: box.checked ? 'violation is-selected' : 'violation', dataset: { testid: 'violation', id: x.id, status: x.status, amount: x.amount_due } },
        el('label', { class: 'violation__row' }, box, body),
      );
      return li;
    };

    selectAll = null;
    if (unpaid.length > 1) {
      selectAll = el('button', { class: 'btn btn--s btn--ghost', type: 'button', dataset: { testid: 'violation-select-all' } }, '全选');
      selectAll.addEventListener('click', () => {
        // 已选满（全部或上限 20 笔）时取消全选，否则按顺序补选到上限
        const all = selected.size >= Math.min(checkboxes.length, MAX_FINES);
        for (const b of checkboxes) {
          if (!all && selected.size >= MAX_FINES) break;
          if (b.checked === all) {
            b.checked = !all;
            b.dispatchEvent(new Event('change'));
          }
        }
      });
    }

    const summary = el(
      'p',
      { class: 'violations-summary' },
      unpaid.length
        ? el('span', { dataset: { testid: 'unpaid-summary' } }, '待缴 ', el('strong', {}, String(unpaid.length)), ' 笔，共 ', el('strong', {}, `¥${yuan(v.unpaid_total)}`))
        : el('span', { dataset: { testid: 'unpaid-summary' } }, '暂无待缴罚款'),
      el('span', { class: 'muted' }, `数据截至 ${dateZh(v.as_of)}`),
    );

    return el(
      'section',
      { class: 'card violations-card', dataset: { testid: 'violations' } },
      el('div', { class: 'card__header' }, el('h2', { class: 'card__title' }, '违法记录'), selectAll),
      summary,
      v.violations.length
        ? el('ul', { class: 'violation-list' }, unpaid.map(item), paid.map(item))
        : el('p', { class: 'empty' }, '近 24 个月没有交通违法记录。'),
    );
  }

  // ----- 底部合计栏 -----

  let totalNode = null;
  let payButton = null;
  let countNode = null;
  let selectAll = null;

  function selectedTotal() {
    let fen = 0n;
    for (const x of data.violations.violations) if (selected.has(x.id)) fen += toFen(x.amount_due);
    return fen;
  }

  function renderPaybar() {
    totalNode = el('strong', { class: 'paybar__total', dataset: { testid: 'pay-total' } }, '¥0.00');
    countNode = el('span', { class: 'paybar__count' });
    payButton = el('button', { class: 'btn btn--primary paybar__button', type: 'button', dataset: { testid: 'pay-button' }, disabled: true }, '缴款');
    payButton.addEventListener('click', openSheet);
    const a = data.account;
    return el(
      'div',
      { class: 'paybar', dataset: { testid: 'paybar' } },
      el(
        'div',
        { class: 'paybar__info' },
        el('div', { class: 'paybar__line' }, el('span', { class: 'paybar__label' }, '合计'), totalNode, countNode),
        el(
          'div',
          { class: 'paybar__account', dataset: { testid: 'pay-account' } },
          a ? `尾号 ${a.suffix} · 余额 ¥${yuan(a.balance)}` : (data.accountError && data.accountError.detail) || '未查到付款账户',
        ),
      ),
      payButton,
    );
  }

  function updateTotal() {
    if (!totalNode) return;
    const fen = selectedTotal();
    totalNode.textContent = `¥${yuan(fenToText(fen))}`;
    totalNode.dataset.total = fenToText(fen);
    countNode.textContent = selected.size ? `（${selected.size} 笔）` : '';
    payButton.disabled = selected.size === 0 || !data.account;
    if (selectAll) {
      const unpaid = data.violations.violations.filter((x) => x.status === 'unpaid').length;
      selectAll.textContent = selected.size && selected.size >= Math.min(unpaid, MAX_FINES) ? '取消全选' : '全选';
    }
  }

  // ----- 确认单 -----

  function openSheet() {
    if (!selected.size || !data.account) return;
    const fines = data.violations.violations.filter((x) => selected.has(x.id));
    const totalFen = fines.reduce((sum, x) => sum + toFen(x.amount_due), 0n);
    // 一次缴款意图：一个键。确认单里的重试都用它；关掉确认单，这个意图就结束了。
    const intent = { key: newKey(), ids: fines.map((x) => x.id), total: fenToText(totalFen), attempted: false, settled: false, busy: false };
    const account = data.account;
    const short = toFen(account.balance) < totalFen;

    const problem = el('div', { class: 'sheet__problem' });
    const confirm = el('button', { class: 'btn btn--primary btn--block', type: 'button', dataset: { testid: 'pay-confirm' }, disabled: short }, '确认缴款');
    const cancel = el('button', { class: 'btn btn--block', type: 'button', dataset: { testid: 'pay-cancel' } }, '取消');
    const sheet = el(
      'dialog',
      { class: 'sheet', dataset: { testid: 'pay-sheet', state: 'confirm' }, 'aria-labelledby': 'pay-sheet-title' },
      el('div', { class: 'sheet__grip', 'aria-hidden': 'true' }),
      el('h2', { id: 'pay-sheet-title', class: 'sheet__title' }, '确认缴款'),
      el(
        'ul',
        { class: 'sheet__fines' },
        fines.map((x) =>
          el(
            'li',
            {},
            el('span', { class: 'sheet__fine' }, el('span', {}, x.description), el('span', { class: 'small muted mono' }, x.id)),
            el('span', { class: 'sheet__fine-amount' }, `¥${yuan(x.amount_due)}`),
          ),
        ),
      ),
      el(
        'dl',
        { class: 'profile-list sheet__facts' },
        kvRow('缴款合计', el('span', { class: 'sheet__total' }, `¥${yuan(intent.total)}`), 'pay-sheet-total'),
        kvRow('付款账户', `尾号 ${account.suffix}`),
        kvRow('可用余额', `¥${yuan(account.balance)}`),
      ),
      short ? el('div', { class: 'problem problem--warn', role: 'alert' }, el('span', { class: 'problem__icon', 'aria-hidden': 'true' }, '!'), el('div', { class: 'problem__body' }, el('div', { class: 'problem__detail' }, '账户余额不足，无法缴纳所选罚款。'))) : null,
      el('p', { class: 'small muted sheet__note' }, '确认后从上述账户扣款，平台出具电子回单并通知交管部门。若网络中断，可在此重新提交，不会重复扣款。'),
      problem,
      el('div', { class: 'stack stack--s' }, confirm, cancel),
    );

    const close = () => {
      if (intent.busy) return;
      sheet.close();
    };
    cancel.addEventListener('click', close);
    // Esc：提交中不许关（结果未知时关掉会让人以为没缴）。
    sheet.addEventListener('cancel', (e) => {
      if (intent.busy) e.preventDefault();
    });
    sheet.addEventListener('click', (e) => {
      // 点遮罩（对话框之外）关闭；点对话框自身的留白不算
      if (e.target !== sheet) return;
      const r = sheet.getBoundingClientRect();
      if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) close();
    });
    sheet.addEventListener('close', () => {
      sheet.remove();
      // 提交过却没拿到回单：结果可能已变（例如超时但其实扣款成功），重新查询列表。
      if (intent.attempted && !intent.settled) showList();
    });

    confirm.addEventListener('click', async () => {
      if (intent.busy || intent.settled) return;
      intent.busy = true;
      intent.attempted = true;
      confirm.disabled = true;
      cancel.disabled = true;
      confirm.textContent = '正在缴款…';
      sheet.dataset.state = 'submitting';
      replace(problem);
      let receipt;
      try {
        receipt = await postIdempotent('/api/v1/me/traffic/payments', { violation_ids: intent.ids, expected_total: intent.total }, intent.key);
      } catch (err) {
        intent.busy = false;
        cancel.disabled = false;
        if (err.redirecting) return;
        if (RELOAD_CODES.has(err.code)) {
          intent.settled = true;
          sheet.close();
          showList(err);
          return;
        }
        if (retryable(err)) {
          sheet.dataset.state = 'retry';
          confirm.disabled = false;
          confirm.textContent = '重新提交';
          replace(problem, problemBanner(err), el('p', { class: 'small muted sheet__note' }, '重新提交会沿用本次缴款的编号，服务端最多扣款一次。'));
        } else {
          // 对这笔缴款的最终答复（如余额不足）：本次意图结束，关掉后可重新发起。
          sheet.dataset.state = 'refused';
          confirm.textContent = '无法缴款';
          cancel.textContent = '关闭';
          replace(problem, problemBanner(err));
        }
        return;
      }
      intent.busy = false;
      intent.settled = true;
      selected.clear();
      sheet.close();
      // 回单本身就是成功页；只有重试拿回的是上次结果时才另行说明
      if (receipt.replayed) toast('已找回本次缴款结果，未重复扣款');
      window.history.pushState({ receipt: receipt.id }, '', `?receipt=${encodeURIComponent(receipt.id)}`);
      showReceipt(receipt.id, receipt);
    });

    document.body.append(sheet);
    sheet.showModal();
    (short ? cancel : confirm).focus();
  }

  // ----- 电子回单 -----

  function receiptCard(p) {
    const notify = NOTIFY[p.notify_state] || { text: p.notify_state, badge: 'badge', short: p.notify_state };
    const pending = p.notify_state === 'pending';
    return el(
      'section',
      { class: 'card receipt', dataset: { testid: 'receipt', id: p.id, notify: p.notify_state } },
      el(
        'div',
        { class: 'receipt__hero' },
        el('span', { class: 'receipt__check', 'aria-hidden': 'true' }, '✓'),
        el('h2', { class: 'receipt__title' }, '电子回单'),
        el('p', { class: 'receipt__amount-label small muted' }, '缴款金额（元）'),
        el('p', { class: 'receipt__amount', dataset: { testid: 'receipt-amount' } }, yuan(p.amount)),
        el(
          'p',
          { class: pending ? 'receipt__notify receipt__notify--pending' : 'receipt__notify', role: 'status', dataset: { testid: 'receipt-notify' } },
          pending ? el('span', { class: 'spinner', 'aria-hidden': 'true' }) : el('span', { class: 'receipt__notify-icon', 'aria-hidden': 'true' }, '✓'),
          notify.text,
        ),
      ),
      el(
        'dl',
        { class: 'profile-list receipt__facts' },
        kvRow('回单编号', el('span', { class: 'mono' }, p.receipt_no), 'receipt-no'),
        kvRow('缴款时间', dateTimeSecZh(p.paid_at), 'receipt-paid-at'),
        kvRow('付款账户', `尾号 ${p.account_suffix}`, 'receipt-account'),
        kvRow('缴款笔数', `${p.fines.length} 笔`),
      ),
      el('h3', { class: 'receipt__subtitle' }, '罚款明细'),
      el(
        'ul',
        { class: 'receipt__fines' },
        p.fines.map((f) =>
          el(
            'li',
            { dataset: { testid: 'receipt-fine', id: f.violation_id } },
            el('span', { class: 'receipt__fine-no mono' }, f.violation_id),
            el(
              'span',
              { class: 'receipt__fine-line' },
              el('span', {}, toFen(f.late_fee) > 0n ? `罚款 ${yuan(f.fine)} 元 + 加处罚款 ${yuan(f.late_fee)} 元` : `罚款 ${yuan(f.fine)} 元`),
              f.notified_at
                ? el('span', { class: 'receipt__fine-ok' }, `交管确认 ${dateTimeZh(f.notified_at)}`)
                : el('span', { class: 'receipt__fine-wait' }, '待交管确认'),
            ),
          ),
        ),
      ),
      el(
        'div',
        { class: 'receipt__sig' },
        el('div', { class: 'receipt__sig-head' }, el('span', { class: 'small muted' }, '平台电子签名（SM2）'), el('span', { class: 'badge badge--info' }, '防篡改')),
        el('code', { class: 'receipt__sig-hex', dataset: { testid: 'receipt-signature' }, title: p.signature }, shortHex(p.signature)),
        el('p', { class: 'small muted' }, '签名方 ', el('span', { class: 'mono' }, p.signer)),
        el(
          'details',
          { class: 'receipt__details' },
          el('summary', {}, '查看签名原文与完整签名'),
          el('pre', { class: 'receipt__text' }, p.receipt_text),
          el('code', { class: 'receipt__sig-full' }, p.signature),
        ),
      ),
    );
  }

  async function showReceipt(id, preloaded) {
    const my = reset('loading');
    host.dataset.view = 'receipt';
    const desc = document.querySelector('[data-traffic="desc"]');
    if (desc) desc.hidden = true; // 回单页不需要服务说明，回单尽量在首屏
    replace(host, loadingBox('正在加载电子回单…'));
    const paymentsPromise = api('/api/v1/me/traffic/payments').then(
      (value) => ({ status: 'fulfilled', value }),
      (reason) => ({ status: 'rejected', reason }),
    );
    let payment = preloaded;
    if (!payment) {
      try {
        payment = await api(`/api/v1/me/traffic/payments/${encodeURIComponent(id)}`);
      } catch (err) {
        if (err.redirecting || my !== view) return;
        host.dataset.state = 'error';
        replace(host, problemBanner(err, { onRetry: () => showReceipt(id) }), el('a', { class: 'btn btn--block traffic-back', href: '/citizen/traffic/' }, '返回违法记录'));
        return;
      }
    }
    const payments = await paymentsPromise;
    if (my !== view) return;
    if (payments.status === 'rejected' && payments.reason.redirecting) return;

    let card = receiptCard(payment);
    const note = el('div', { class: 'receipt-poll', dataset: { testid: 'receipt-poll' } });
    let list = renderPayments(payments, payment.id);
    host.dataset.state = 'ready';
    replace(host, card, note, el('a', { class: 'btn btn--block traffic-back', href: '/citizen/traffic/', dataset: { testid: 'receipt-back' } }, '返回违法记录'), list);

    const update = (p) => {
      const open = card.querySelector('details')?.open;
      const next = receiptCard(p);
      if (open) next.querySelector('details').open = true;
      card.replaceWith(next);
      card = next;
    };

    const poll = (deadline) => {
      replace(note);
      const tick = async () => {
        if (my !== view) return;
        let p = null;
        try {
          p = await api(`/api/v1/me/traffic/payments/${encodeURIComponent(id)}`);
        } catch (err) {
          if (err.redirecting) return; // 偶发失败：下一轮再查
        }
        if (my !== view) return;
        if (p) {
          update(p);
          if (p.notify_state !== 'pending') {
            // 缴款记录里的状态也跟着更新
            const fresh = await api('/api/v1/me/traffic/payments').then((value) => ({ status: 'fulfilled', value }), (reason) => ({ status: 'rejected', reason }));
            if (my !== view) return;
            const next = renderPayments(fresh, p.id);
            list.replaceWith(next);
            list = next;
            return;
          }
        }
        if (Date.now() >= deadline) {
          const again = el('button', { class: 'btn btn--s', type: 'button', dataset: { testid: 'receipt-refresh' } }, '刷新状态');
          again.addEventListener('click', () => poll(Date.now() + POLL_MAX_MS));
          replace(
            note,
            el(
              'div',
              { class: 'problem problem--warn', role: 'status' },
              el('span', { class: 'problem__icon', 'aria-hidden': 'true' }, '!'),
              el(
                'div',
                { class: 'problem__body' },
                el('div', { class: 'problem__detail' }, '款项已缴纳，交管部门确认需要更长时间。'),
                el('div', { class: 'problem__meta' }, '平台会持续通知交管部门，无需重复缴款；您可稍后在缴款记录中查看。'),
                el('div', { class: 'problem__actions' }, again),
              ),
            ),
          );
          return;
        }
        pollTimer = setTimeout(tick, POLL_EVERY_MS);
      };
      pollTimer = setTimeout(tick, POLL_EVERY_MS);
    };
    if (payment.notify_state === 'pending') poll(Date.now() + POLL_MAX_MS);
  }

  // ----- 缴款记录 -----

  function renderPayments(result, current) {
    if (result.status === 'rejected') return sectionError('缴款记录', 'payments', result.reason, () => route());
    const { items } = result.value;
    return el(
      'section',
      { class: 'card', dataset: { testid: 'payments' } },
      el('div', { class: 'card__header' }, el('h2', { class: 'card__title' }, '缴款记录'), el('span', { class: 'small muted' }, `${items.length} 笔`)),
      items.length
        ? el(
            'ul',
            { class: 'payment-list' },
            items.map((p) => {
              const notify = NOTIFY[p.notify_state] || { badge: 'badge', short: p.notify_state };
              return el(
                'li',
                {},
                el(
                  'a',
                  {
                    class: 'payment-item',
                    href: `/citizen/traffic/?receipt=${encodeURIComponent(p.id)}`,
                    'aria-current': p.id === current ? 'page' : null,
                    dataset: { testid: 'payment-item', id: p.id },
                  },
                  el('span', { class: 'payment-item__head' }, el('span', { class: 'payment-item__amount' }, `¥${yuan(p.amount)}`), el('span', { class: notify.badge }, notify.short)),
                  el('span', { class: 'payment-item__meta' }, `${dateTimeZh(p.paid_at)} · ${p.fines.length} 笔罚款 · 尾号 ${p.account_suffix}`),
                  el('span', { class: 'payment-item__no mono' }, `回单 ${p.receipt_no}`),
                ),
              );
            }),
          )
        : el('p', { class: 'muted small' }, '暂无缴款记录。'),
    );
  }

  window.addEventListener('popstate', () => {
    const open = document.querySelector('dialog.sheet[open]');
    if (open) open.close();
    route();
  });

  return { route };
}

boot(async (_me, root) => {
  await page(root.querySelector('[data-traffic="body"]')).route();
});
