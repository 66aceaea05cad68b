// 便民服务平台 · 授权（ES module）
//
// 服务页面查询个人数据时，服务端若答 403 consent.required，页面调用 consentPrompt()：
//   1. 说明需要授权的用途；用户点“查看授权内容”才创建一条待确认授权（POST /api/v1/me/consents）；
//   2. 展示这条授权的数据范围、有效期、使用频次、数据保留期（均取自服务端返回，不在前端编造）；
//   3. 用户点“同意授权”（POST …/approve）后回调 onApproved 重新查询；点“暂不授权”则拒绝（POST …/reject）。
// “我的授权”页面也用这里的 consentFacts() 展示一条授权的要素。

import { api } from './api.js';
import { el, replace, problemBanner } from './dom.js';

const UNIT = { day: '每天', month: '每月', year: '每年' };

/** 东八区日期：2026-11-29 → 2026年11月29日。 */
export function dateZh(value) {
  if (!value) return '—';
  const d = new Date(value.length === 10 ? `${value}T00:00:00+08:00` : value);
  return new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: 'long', day: 'numeric' }).format(d);
}

/** 东八区日期时间：2026年11月29日 14:05。 */
export function dateTimeZh(value) {
  if (!value) return '—';
  return new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: 'long', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).format(new Date(value));
}

const STATE_BADGE = {
  PENDING: 'badge badge--warn',
  ACTIVE: 'badge badge--ok',
  REJECTED: 'badge',
  REVOKED: 'badge',
  EXPIRED: 'badge',
};

/** 状态徽标。 */
export function stateBadge(consent) {
  return el('span', { class: STATE_BADGE[consent.state] || 'badge', dataset: { testid: 'consent-state', state: consent.state } }, consent.state_text);
}

/** 一条授权的要素（用途、数据、时间范围、频次、有效期、保留期）。 */
export function consentFacts(consent) {
  const row = (label, ...value) => el('div', { class: 'profile-list__row' }, el('dt', {}, label), el('dd', { class: 'profile-list__value' }, ...value));
  return el(
    'dl',
    { class: 'profile-list consent-facts' },
    row('授权用途', consent.purpose_text),
    row('授权数据', el('ul', { class: 'consent-kinds', dataset: { testid: 'consent-kinds' } }, consent.data_kinds.map((k) => el('li', { dataset: { kind: k.code } }, k.label)))),
    row('数据范围', `${dateZh(consent.data_from)} 至 ${dateZh(consent.data_to)}`),
    row('使用频次', `${UNIT[consent.frequency_unit] || ''}最多 ${consent.frequency_max} 次`),
    row('有效期至', dateTimeZh(consent.valid_until)),
    row('数据保留', consent.data_life_days === 0 ? '仅用于本次办理，不保留' : `获取后最多保留 ${consent.data_life_days} 天`),
    row('被授权方', el('span', { class: 'small mono' }, consent.consumer)),
  );
}

/**
 * 在 host 中展示授权引导，用户同意后调用 onApproved()。
 * @param {HTMLElement} host
 * @param {{purpose: string, title: string, why: string}} what
 * @param {() => void} onApproved
 */
export function consentPrompt(host, what, onApproved) {
  const problem = el('div');
  const start = el('button', { class: 'btn btn--primary btn--block', type: 'button', dataset: { testid: 'consent-start' } }, '查看授权内容');
  const card = el(
    'section',
    { class: 'card consent-card', dataset: { testid: 'consent-prompt', state: 'intro' }, 'aria-labelledby': 'consent-title' },
    el('h2', { id: 'consent-title', class: 'card__title' }, `需要您的授权：${what.title}`),
    el('p', { class: 'muted' }, what.why),
    el('p', { class: 'small muted' }, '授权后，平台仅在您办理本项业务时、按授权范围向相关部门查询；您可随时在“我的授权”中撤回，撤回后立即停止查询。'),
    problem,
    start,
  );
  replace(host, card);

  start.addEventListener('click', async () => {
    start.disabled = true;
    start.textContent = '正在生成授权书…';
    replace(problem);
    let pending;
    try {
      pending = await api('/api/v1/me/consents', { method: 'POST', body: { purpose: what.purpose } });
    } catch (err) {
      start.disabled = false;
      start.textContent = '查看授权内容';
      if (!err.redirecting) replace(problem, problemBanner(err));
      return;
    }
    showTerms(pending);
  });

  function showTerms(consent) {
    const approve = el('button', { class: 'btn btn--primary btn--block', type: 'button', dataset: { testid: 'consent-approve' } }, '同意授权');
    const reject = el('button', { class: 'btn btn--block', type: 'button', dataset: { testid: 'consent-reject' } }, '暂不授权');
    const decideProblem = el('div');
    card.dataset.state = 'terms';
    replace(
      card,
      el('div', { class: 'card__header' }, el('h2', { id: 'consent-title', class: 'card__title' }, '个人信息查询授权书'), stateBadge(consent)),
      el('p', { class: 'small muted' }, '请阅读以下授权内容。同意后，平台将以国密算法签名生成授权凭证，随每次查询发送给相关部门核验。'),
      consentFacts(consent),
      decideProblem,
      el('div', { class: 'stack stack--s' }, approve, reject),
    );
    approve.focus();
    const decide = async (action) => {
      approve.disabled = true;
      reject.disabled = true;
      replace(decideProblem);
      try {
        await api(`/api/v1/me/consents/${consent.id}/${action}`, { method: 'POST', body: {} });
      } catch (err) {
        approve.disabled = false;
        reject.disabled = false;
        if (!err.redirecting) replace(decideProblem, problemBanner(err));
        return;
      }
      if (action === 'approve') {
        card.dataset.state = 'approved';
        onApproved();
      } else {
        card.dataset.state = 'rejected';
        replace(
          card,
          el('h2', { class: 'card__title' }, '您已拒绝本次授权'),
          el('p', { class: 'muted' }, `未经授权，平台不会查询您的${what.title}信息。如需办理，可随时重新授权。`),
          el('a', { class: 'btn btn--block', href: '/citizen/' }, '返回首页'),
        );
      }
    };
    approve.addEventListener('click', () => decide('approve'));
    reject.addEventListener('click', () => decide('reject'));
  }
}

/**
 * 多个并行请求（Promise.allSettled 的结果）之后的统一处理：
 * 任一请求正在带回登录页 → 返回 true（什么也不做）；任一请求答 consent.required →
 * 在 host 中展示授权引导（同意后调用 onApproved）并返回 true；否则返回 false，由页面继续渲染。
 * @param {PromiseSettledResult[]} results
 * @param {HTMLElement} host
 * @param {{purpose: string, title: string, why: string}} what
 * @param {() => void} onApproved
 */
export function consentGate(results, host, what, onApproved) {
  const failed = results.filter((r) => r.status === 'rejected' && r.reason);
  if (failed.some((r) => r.reason.redirecting)) return true;
  if (failed.some((r) => r.reason.code === 'consent.required')) {
    host.dataset.state = 'consent';
    consentPrompt(host, what, onApproved);
    return true;
  }
  return false;
}
