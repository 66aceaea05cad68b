// 便民服务平台 · 公积金查询（ES module）
//
// GET /api/v1/me/hpf/account：服务端凭“公积金查询”授权经统一接入标准向公积金中心查询。
// 403 consent.required → 展示授权引导；同意后重新查询。其余错误（404 无账户、503 部门暂不可用等）
// 按服务端 problem+json 的中文 detail 展示。金额为服务端给出的字符串（元，两位小数），前端不做浮点运算。

import { boot } from './shell.js';
import { api } from './api.js';
import { el, replace, problemBanner } from './dom.js';
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

boot(async (_me, root) => {
  await load(root.querySelector('[data-hpf="body"]'));
});
