// 便民服务平台 · 公积金查询（ES module）
//
// GET /api/v1/me/hpf/account：服务端凭“公积金查询”授权经统一接入标准向公积金中心查询。
// 403 consent.required → 展示授权引导；同意后重新查询。其余错误（404 无账户、503 部门暂不可用等）
// 按服务端 problem+json 的中文 detail 展示。金额为服务端给出的字符串（元，两位小数），前端不做浮点运算。

import { boot } from './shell.js';
import { api } from './api.js';
import { el, replace, problemBanner, toast } from './dom.js';
import { consentPrompt, dateZh } from './consent.js';

/** '12345.60' → '12,345.60'（纯字符串处理，不经浮点）。 */
export function yuan(text) {
  const [int, frac = '00'] = String(text).split('.');
  const negative = int.startsWith('-');
  const digits = negative ? int.slice(1) : int;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${grouped}.${frac}`;
}

const STATUS_BADGE = { active: 'badge badge--ok', sealed: 'badge badge--warn', closed: 'badge' };

function renderAccount(host, a) {
  const row = (label, value, testid) =>
    el('div', { class: 'profile-list__row' }, el('dt', {}, label), el('dd', { class: 'profile-list__value', dataset: testid ? { testid } : {} }, value));
  replace(
    host,
    el(
      'section',
      { class: 'card hpf-balance', dataset: { testid: 'hpf-account' } },
      el('div', { class: 'card__header' }, el('h2', { class: 'card__title' }, '账户余额（元）'), el('span', { class: STATUS_BADGE[a.status] || 'badge', dataset: { testid: 'hpf-status' } }, a.status_text)),
      el('p', { class: 'hpf-balance__value mono', dataset: { testid: 'hpf-balance' } }, yuan(a.balance)),
      el('p', { class: 'small muted' }, `数据截至 ${dateZh(a.as_of)} · 本次查询用时 ${a.fetch_ms} 毫秒`),
    ),
    el(
      'section',
      { class: 'card' },
      el('h2', { class: 'card__title' }, '账户信息'),
      el(
        'dl',
        { class: 'profile-list' },
        row('公积金账号', el('span', { class: 'mono' }, a.account_number), 'hpf-account-number'),
        row('缴存单位', a.employer_name || '—', 'hpf-employer'),
        row('缴存基数', `${yuan(a.deposit_base)} 元`),
        row('缴存比例', `单位 ${a.employer_rate_percent}% · 个人 ${a.employee_rate_percent}%`),
        row('月缴存额', `${yuan(a.monthly_deposit)} 元`, 'hpf-monthly'),
        row('开户年月', a.opened),
        row('最近缴存', a.last_deposit),
        row('累计缴存', `${a.months_contributed} 个月`),
      ),
    ),
  );
  host.dataset.state = 'ready';
}

async function load(host) {
  host.dataset.state = 'loading';
  replace(host, el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), '正在向公积金中心查询…'));
  try {
    renderAccount(host, await api('/api/v1/me/hpf/account'));
  } catch (err) {
    if (err.redirecting) return;
    if (err.code === 'consent.required') {
      host.dataset.state = 'consent';
      consentPrompt(
        host,
        {
          purpose: 'SERVICE_HPF_QUERY',
          title: '公积金查询',
          why: '查询您的公积金账户、余额与缴存明细，需要您授权本平台向成都住房公积金管理中心获取这些信息。',
        },
        () => load(host),
      );
      return;
    }
    host.dataset.state = 'error';
    replace(host, problemBanner(err, { onRetry: () => load(host) }));
  }
}

// ---------- 缴存明细：按月份区间分页，最新在前 ----------

function depositsSection() {
  const host = el('section', { class: 'card', dataset: { testid: 'hpf-deposits', state: 'idle' } });
  let page = 1;
  const from = el('input', { class: 'input', type: 'month', 'aria-label': '起始月份', dataset: { testid: 'deposits-from' } });
  const to = el('input', { class: 'input', type: 'month', 'aria-label': '结束月份', dataset: { testid: 'deposits-to' } });
  const list = el('div');
  async function show() {
    host.dataset.state = 'loading';
    const params = new URLSearchParams({ page: String(page), per_page: '6' });
    if (from.value) params.set('from', from.value);
    if (to.value) params.set('to', to.value);
    let data;
    try {
      data = await api(`/api/v1/me/hpf/deposits?${params}`);
    } catch (err) {
      if (err.redirecting) return;
      host.dataset.state = 'error';
      replace(list, problemBanner(err));
      return;
    }
    const pages = Math.max(1, Math.ceil(data.total / data.per_page));
    const prev = el('button', { class: 'btn btn--s', type: 'button', disabled: page <= 1, dataset: { testid: 'deposits-prev' } }, '上一页');
    const next = el('button', { class: 'btn btn--s', type: 'button', disabled: page >= pages, dataset: { testid: 'deposits-next' } }, '下一页');
    prev.addEventListener('click', () => { page -= 1; show(); });
    next.addEventListener('click', () => { page += 1; show(); });
    replace(
      list,
      data.entries.length
        ? el('ol', { class: 'deposit-list' }, data.entries.map((e) => el(
          'li',
          { dataset: { testid: 'deposit', month: e.month } },
          el('span', { class: 'deposit-list__month' }, e.month, e.kind === 'interest' ? el('span', { class: 'badge badge--info' }, '结息') : null),
          el('span', { class: 'deposit-list__amount mono' }, `+${yuan(e.amount)}`),
          el('span', { class: 'deposit-list__balance muted small' }, `余额 ${yuan(e.balance)}`),
        )))
        : el('p', { class: 'muted' }, '该期间没有缴存记录。'),
      el('div', { class: 'cluster cluster--between pager' }, prev, el('span', { class: 'small muted', dataset: { testid: 'deposits-page' } }, `${data.from} 至 ${data.to} · 第 ${data.page}/${pages} 页 · 共 ${data.total} 条`), next),
    );
    host.dataset.state = 'ready';
  }
  const apply = el('button', { class: 'btn btn--s', type: 'button' }, '查询');
  apply.addEventListener('click', () => { page = 1; show(); });
  replace(
    host,
    el('h2', { class: 'card__title' }, '缴存明细'),
    el('div', { class: 'cluster range-row' }, from, el('span', { class: 'muted' }, '至'), to, apply),
    list,
  );
  return { host, show };
}

// ---------- 提取条件：按配置的规则逐项判断，列出原因 ----------

const ELIGIBILITY = {
  eligible: ['badge badge--ok', '可提取'],
  not_eligible: ['badge', '暂不符合'],
  needs_offline: ['badge badge--warn', '需线下办理'],
  unknown: ['badge badge--info', '待确认'],
};

function tri(name, label) {
  const select = el(
    'select',
    { class: 'input input--s', name, 'aria-label': label, dataset: { testid: `fact-${name}` } },
    el('option', { value: '' }, '未填写'),
    el('option', { value: 'true' }, '是'),
    el('option', { value: 'false' }, '否'),
  );
  return { select, row: el('label', { class: 'fact-row' }, el('span', {}, label), select) };
}

function withdrawalSection() {
  const host = el('section', { class: 'card', dataset: { testid: 'hpf-withdrawal', state: 'idle' } });
  const facts = [tri('owns_home', '名下是否有住房'), tri('has_hpf_loan', '是否有公积金贷款'), tri('re_employed', '离职后是否已再就业')];
  const list = el('div');
  async function show() {
    host.dataset.state = 'loading';
    const params = new URLSearchParams();
    for (const f of facts) if (f.select.value) params.set(f.select.name, f.select.value);
    let data;
    try {
      data = await api(`/api/v1/me/hpf/withdrawal?${params}`);
    } catch (err) {
      if (err.redirecting) return;
      host.dataset.state = 'error';
      replace(list, problemBanner(err));
      return;
    }
    replace(list, el('ul', { class: 'withdrawal-list' }, data.assessments.map((a) => {
      const [cls, text] = ELIGIBILITY[a.eligibility] || ['badge', a.eligibility];
      return el(
        'li',
        { dataset: { testid: 'withdrawal', purpose: a.purpose, eligibility: a.eligibility } },
        el('div', { class: 'cluster cluster--between' }, el('strong', {}, a.name), el('span', { class: cls }, text)),
        a.max_amount ? el('p', { class: 'small' }, `最多可提取 ${yuan(a.max_amount)} 元${a.amount_note ? `（${a.amount_note}）` : ''}`) : null,
        a.reasons.length ? el('ul', { class: 'reason-list small muted' }, a.reasons.map((r) => el('li', {}, r.message))) : null,
      );
    })), el('p', { class: 'small muted' }, `规则版本 ${data.rules_version}（演示配置，非官方口径）`));
    host.dataset.state = 'ready';
  }
  for (const f of facts) f.select.addEventListener('change', show);
  replace(
    host,
    el('h2', { class: 'card__title' }, '提取条件'),
    el('p', { class: 'small muted' }, '以下情况公积金中心不掌握，请按实际填写，判断结果会随之更新。'),
    el('div', { class: 'facts' }, facts.map((f) => f.row)),
    list,
  );
  return { host, show };
}

// ---------- 贷款试算与可贷额度 ----------

function calculatorSection() {
  const host = el('section', { class: 'card', dataset: { testid: 'hpf-calculator', state: 'idle' } });
  const amount = el('input', { class: 'input', inputmode: 'decimal', value: '500000', 'aria-label': '贷款金额（元）', dataset: { testid: 'calc-amount' } });
  const years = el('select', { class: 'input', 'aria-label': '贷款年限', dataset: { testid: 'calc-years' } },
    [5, 10, 15, 20, 25, 30].map((y) => el('option', { value: String(y), selected: y === 30 }, `${y} 年`)));
  const method = el('select', { class: 'input', 'aria-label': '还款方式', dataset: { testid: 'calc-method' } },
    el('option', { value: 'equal_instalment' }, '等额本息'), el('option', { value: 'equal_principal' }, '等额本金'));
  const home = el('select', { class: 'input', 'aria-label': '首套或二套', dataset: { testid: 'calc-home' } },
    el('option', { value: 'first' }, '首套房'), el('option', { value: 'second' }, '二套房'));
  const price = el('input', { class: 'input', inputmode: 'decimal', value: '1500000', 'aria-label': '房屋总价（元）', dataset: { testid: 'quota-price' } });
  const result = el('div', { dataset: { testid: 'calc-result' } });
  const quota = el('div', { dataset: { testid: 'quota-result' } });
  const run = el('button', { class: 'btn btn--primary btn--block', type: 'button', dataset: { testid: 'calc-run' } }, '试算');
  const estimate = el('button', { class: 'btn btn--block', type: 'button', dataset: { testid: 'quota-run' } }, '估算我的可贷额度');

  run.addEventListener('click', async () => {
    host.dataset.state = 'loading';
    let s;
    try {
      s = await api('/api/v1/hpf/loan/schedule', {
        method: 'POST',
        body: { principal: amount.value.trim(), term_months: Number(years.value) * 12, method: method.value, home: home.value },
      });
    } catch (err) {
      if (err.redirecting) return;
      host.dataset.state = 'error';
      replace(result, problemBanner(err));
      return;
    }
    const rows = s.instalments.slice(0, 12);
    replace(
      result,
      el('dl', { class: 'profile-list' },
        el('div', { class: 'profile-list__row' }, el('dt', {}, '年利率'), el('dd', { class: 'profile-list__value' }, `${(Number(s.terms.annual_rate) * 100).toFixed(3).replace(/0+$/, '').replace(/\.$/, '')}%`)),
        el('div', { class: 'profile-list__row' }, el('dt', {}, '首月月供'), el('dd', { class: 'profile-list__value mono', dataset: { testid: 'calc-first' } }, `${yuan(s.first_payment)} 元`)),
        el('div', { class: 'profile-list__row' }, el('dt', {}, '末月月供'), el('dd', { class: 'profile-list__value mono' }, `${yuan(s.last_payment)} 元`)),
        el('div', { class: 'profile-list__row' }, el('dt', {}, '利息总额'), el('dd', { class: 'profile-list__value mono', dataset: { testid: 'calc-interest' } }, `${yuan(s.total_interest)} 元`)),
        el('div', { class: 'profile-list__row' }, el('dt', {}, '还款总额'), el('dd', { class: 'profile-list__value mono' }, `${yuan(s.total_paid)} 元`)),
      ),
      el('table', { class: 'schedule' },
        el('thead', {}, el('tr', {}, el('th', {}, '期数'), el('th', {}, '月供'), el('th', {}, '本金'), el('th', {}, '利息'), el('th', {}, '剩余本金'))),
        el('tbody', {}, rows.map((r) => el('tr', {}, el('td', {}, String(r.month)), el('td', {}, yuan(r.payment)), el('td', {}, yuan(r.principal)), el('td', {}, yuan(r.interest)), el('td', {}, yuan(r.remaining)))))),
      el('p', { class: 'small muted' }, `共 ${s.instalments.length} 期，表中为前 12 期；每月利息按剩余本金 × 月利率计算并四舍五入到分。`),
    );
    host.dataset.state = 'ready';
  });

  estimate.addEventListener('click', async () => {
    const params = new URLSearchParams({ house_price: price.value.trim(), home: home.value, method: method.value, term_months: String(Number(years.value) * 12) });
    try {
      const q = await api(`/api/v1/me/hpf/loan/quota?${params}`);
      replace(quota,
        el('p', { class: 'quota-amount' }, '最高可贷约 ', el('strong', { class: 'mono', dataset: { testid: 'quota-amount' } }, `${yuan(q.max_amount)} 元`)),
        el('p', { class: 'small muted' }, `受限于：${q.reason}`),
      );
    } catch (err) {
      if (err.redirecting) return;
      if (err.code === 'consent.required') toast('请先完成公积金查询授权');
      replace(quota, problemBanner(err));
    }
  });

  replace(
    host,
    el('h2', { class: 'card__title' }, '公积金贷款试算'),
    el('div', { class: 'calc-grid' },
      el('label', { class: 'field' }, el('span', { class: 'field__label' }, '贷款金额（元）'), amount),
      el('label', { class: 'field' }, el('span', { class: 'field__label' }, '贷款年限'), years),
      el('label', { class: 'field' }, el('span', { class: 'field__label' }, '还款方式'), method),
      el('label', { class: 'field' }, el('span', { class: 'field__label' }, '房屋套数'), home),
    ),
    run,
    result,
    el('label', { class: 'field quota-field' }, el('span', { class: 'field__label' }, '房屋总价（元）'), price),
    estimate,
    quota,
  );
  return { host };
}

boot(async (_me, root) => {
  const body = root.querySelector('[data-hpf="body"]');
  const more = root.querySelector('[data-hpf="more"]');
  const deposits = depositsSection();
  const withdrawal = withdrawalSection();
  const calculator = calculatorSection();
  replace(more, deposits.host, withdrawal.host, calculator.host);
  more.hidden = true;
  const reveal = () => {
    if (body.dataset.state === 'ready' && more.hidden) {
      more.hidden = false;
      deposits.show();
      withdrawal.show();
    }
  };
  new MutationObserver(reveal).observe(body, { attributes: true, attributeFilter: ['data-state'] });
  await load(body);
  reveal();
});
