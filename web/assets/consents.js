// 便民服务平台 · 我的授权（ES module）
//
// 列表：GET /api/v1/me/consents（新的在前）。点开一条：GET /api/v1/me/consents/{id}，展示要素与每次使用记录。
// 待确认的可同意 / 拒绝，已授权的可撤回（二次确认）。撤回后服务端立即生效，本页重新加载该条。

import { boot } from './shell.js';
import { api } from './api.js';
import { el, replace, problemBanner, toast } from './dom.js';
import { consentFacts, dateTimeZh, stateBadge } from './consent.js';

function summary(consent, onOpen) {
  const kinds = consent.data_kinds.map((k) => k.label).join('、');
  const when = consent.state === 'ACTIVE' ? `有效期至 ${dateTimeZh(consent.valid_until)}` : `申请于 ${dateTimeZh(consent.created_at)}`;
  return el(
    'li',
    {},
    el(
      'button',
      { class: 'consent-item', type: 'button', dataset: { testid: 'consent-item', id: consent.id, state: consent.state }, onclick: () => onOpen(consent.id) },
      el('span', { class: 'consent-item__head' }, el('span', { class: 'consent-item__title' }, consent.purpose_text), stateBadge(consent)),
      el('span', { class: 'consent-item__kinds' }, kinds),
      el('span', { class: 'consent-item__meta' }, `${when} · 已使用 ${consent.use_count} 次`),
    ),
  );
}

function usesList(uses) {
  if (!uses.length) return el('p', { class: 'muted small', dataset: { testid: 'consent-uses-empty' } }, '尚未使用。');
  return el(
    'ol',
    { class: 'consent-uses', dataset: { testid: 'consent-uses' } },
    uses
      .slice()
      .reverse()
      .map((u) =>
        el(
          'li',
          { dataset: { testid: 'consent-use' } },
          el('span', {}, u.data_kind.label),
          el('span', { class: 'muted small' }, dateTimeZh(u.used_at)),
        ),
      ),
  );
}

function page(host) {
  async function list() {
    host.dataset.state = 'loading';
    replace(host, el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), '正在加载…'));
    let data;
    try {
      data = await api('/api/v1/me/consents');
    } catch (err) {
      if (err.redirecting) return;
      host.dataset.state = 'error';
      replace(host, problemBanner(err, { onRetry: list }));
      return;
    }
    if (!data.items.length) {
      host.dataset.state = 'empty';
      replace(
        host,
        el('div', { class: 'card empty', dataset: { testid: 'consents-empty' } }, el('p', {}, '您还没有任何授权。'), el('p', { class: 'small muted' }, '办理公积金查询、电子社保卡、交通罚没等业务时，平台会先征得您的授权。')),
      );
      return;
    }
    host.dataset.state = 'list';
    replace(host, el('ul', { class: 'consent-list', dataset: { testid: 'consent-list' } }, data.items.map((c) => summary(c, open))));
  }

  async function open(id) {
    host.dataset.state = 'loading';
    let consent;
    try {
      consent = await api(`/api/v1/me/consents/${id}`);
    } catch (err) {
      if (err.redirecting) return;
      host.dataset.state = 'error';
      replace(host, problemBanner(err, { onRetry: () => open(id) }));
      return;
    }
    const problem = el('div');
    const actions = el('div', { class: 'stack stack--s' });
    const back = el('button', { class: 'btn btn--block btn--ghost', type: 'button', dataset: { testid: 'consent-back' }, onclick: list }, '返回授权列表');

    const act = async (action, button, label) => {
      button.disabled = true;
      replace(problem);
      try {
        await api(`/api/v1/me/consents/${id}/${action}`, { method: 'POST', body: {} });
      } catch (err) {
        button.disabled = false;
        if (!err.redirecting) replace(problem, problemBanner(err));
        return;
      }
      toast(label);
      open(id);
    };

    if (consent.state === 'ACTIVE') {
      const revoke = el('button', { class: 'btn btn--block btn--danger', type: 'button', dataset: { testid: 'consent-revoke' } }, '撤回授权');
      revoke.addEventListener('click', () => {
        const confirm = el('button', { class: 'btn btn--block btn--primary', type: 'button', dataset: { testid: 'consent-revoke-confirm' } }, '确认撤回');
        const cancel = el('button', { class: 'btn btn--block', type: 'button', onclick: () => open(id) }, '再想想');
        confirm.addEventListener('click', () => act('revoke', confirm, '授权已撤回，平台将不再以此授权查询'));
        replace(
          actions,
          el('div', { class: 'problem problem--warn', role: 'alert' }, el('span', { class: 'problem__icon', 'aria-hidden': 'true' }, '!'), el('div', { class: 'problem__body' }, el('div', { class: 'problem__detail' }, `撤回后，平台将立即停止以此授权查询您的信息，“${consent.purpose_text}”需重新授权后才能办理。`))),
          confirm,
          cancel,
        );
        confirm.focus();
      });
      actions.append(revoke);
    } else if (consent.state === 'PENDING') {
      const approve = el('button', { class: 'btn btn--block btn--primary', type: 'button', dataset: { testid: 'consent-approve' } }, '同意授权');
      const reject = el('button', { class: 'btn btn--block', type: 'button', dataset: { testid: 'consent-reject' } }, '拒绝');
      approve.addEventListener('click', () => act('approve', approve, '已同意授权'));
      reject.addEventListener('click', () => act('reject', reject, '已拒绝授权'));
      actions.append(approve, reject);
    }

    const stateLine = consent.revoked_at
      ? `撤回于 ${dateTimeZh(consent.revoked_at)}`
      : consent.decided_at
        ? `确认于 ${dateTimeZh(consent.decided_at)}`
        : `申请于 ${dateTimeZh(consent.created_at)}`;
    host.dataset.state = 'detail';
    replace(
      host,
      el(
        'section',
        { class: 'card', dataset: { testid: 'consent-detail', id: consent.id, state: consent.state } },
        el('div', { class: 'card__header' }, el('h2', { class: 'card__title' }, consent.purpose_text), stateBadge(consent)),
        el('p', { class: 'small muted' }, stateLine),
        consentFacts(consent),
      ),
      el('section', { class: 'card' }, el('h2', { class: 'card__title' }, `使用记录（${consent.use_count} 次）`), usesList(consent.uses)),
      problem,
      actions,
      back,
    );
  }

  return { list };
}

boot(async (_me, root) => {
  await page(root.querySelector('[data-consents="body"]')).list();
});
