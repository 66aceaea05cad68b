// 便民服务平台 · 服务大厅（ES module）
//
// GET /api/v1/me/services：全部服务、各自开通的区（市、县），以及对当前市民（按户籍所在区）是否可办。
// GET /api/v1/me/consents：市民的授权记录；需要授权的服务（purpose 非空）在卡片上显示该用途最新一条授权。
// 授权列表取不到时不影响大厅本身，只在卡片上说明“授权情况暂时无法获取”。

import { boot } from './shell.js';
import { api } from './api.js';
import { el, replace, problemBanner } from './dom.js';
import { dateZh, dateTimeZh } from './consent.js';

const STATUS = {
  live: ['badge badge--ok', '已开通'],
  coming: ['badge badge--info', '即将上线'],
};

/** 全市的区（市、县）：全市可办的服务列出的就是全部区；没有时取各服务的并集。 */
function allDistricts(services) {
  const full = services.find((s) => s.everywhere);
  if (full) return full.districts;
  const seen = new Map();
  for (const s of services) for (const d of s.districts) seen.set(d.code, d);
  return [...seen.values()].sort((a, b) => a.code.localeCompare(b.code));
}

/** 某用途最新的一条授权（按创建时间，缺省时保持服务端“新的在前”的顺序）。 */
function latestConsent(items, purpose) {
  const mine = items.filter((c) => c.purpose === purpose);
  if (!mine.length) return null;
  return mine.reduce((best, c) => (c.created_at && best.created_at && c.created_at > best.created_at ? c : best));
}

function availabilityBadge(service) {
  const mine = service.available_to_me;
  if (mine === null || mine === undefined) return null;
  const live = service.status === 'live';
  if (mine) return el('span', { class: 'badge badge--ok', dataset: { testid: 'hall-available' } }, live ? '您所在区可办' : '上线后您所在区可办');
  return el('span', { class: 'badge badge--warn', dataset: { testid: 'hall-available' } }, live ? '您所在区暂未开通' : '您所在区暂未纳入试点');
}

function districtDetails(service, districts, myDistrict) {
  const open = new Set(service.districts.map((d) => d.code));
  return el(
    'details',
    { class: 'hall-districts', dataset: { testid: 'hall-districts' } },
    el('summary', {}, `各区开通情况（${open.size}/${districts.length}）`),
    el(
      'ul',
      { class: 'hall-districts__list' },
      districts.map((d) => {
        const on = open.has(d.code);
        const me = myDistrict && myDistrict.code === d.code;
        return el(
          'li',
          { class: `hall-districts__item${on ? ' is-on' : ''}${me ? ' is-mine' : ''}`, dataset: { code: d.code, open: String(on) } },
          el('span', { class: 'hall-districts__name' }, d.name, me ? el('span', { class: 'hall-districts__me', title: '您的户籍所在区' }, '您所在') : null),
          el('span', { class: 'hall-districts__state' }, on ? '已开通' : '未开通'),
        );
      }),
    ),
  );
}

function consentLine(service, consents) {
  if (!service.purpose) return null;
  if (!consents) {
    return el('div', { class: 'hall-consent', dataset: { testid: 'hall-consent', state: 'unknown' } }, el('span', { class: 'muted' }, '授权情况暂时无法获取'));
  }
  const c = latestConsent(consents, service.purpose);
  const link = el('a', { class: 'hall-consent__link', href: '/citizen/consents/' }, '我的授权 ›');
  if (!c) {
    return el(
      'div',
      { class: 'hall-consent', dataset: { testid: 'hall-consent', state: 'none' } },
      el('span', { class: 'hall-consent__main' }, el('span', { class: 'badge' }, '未授权'), el('span', { class: 'small muted' }, '办理时将先征得您的授权')),
      link,
    );
  }
  const text = c.state === 'ACTIVE'
    ? `已授权，有效期至 ${dateZh(c.valid_until)}`
    : c.state === 'PENDING'
      ? '授权待您确认'
      : `${c.state_text}，办理时需重新授权`;
  return el(
    'div',
    { class: 'hall-consent', dataset: { testid: 'hall-consent', state: c.state, id: c.id } },
    el(
      'span',
      { class: 'hall-consent__main' },
      el('span', { class: c.state === 'ACTIVE' ? 'hall-consent__text is-active' : 'hall-consent__text', title: c.state === 'ACTIVE' ? `有效期至 ${dateTimeZh(c.valid_until)}` : null }, text),
      c.state === 'ACTIVE' ? el('span', { class: 'hall-consent__meta small muted' }, `已使用 ${c.use_count} 次`) : null,
    ),
    link,
  );
}

function serviceCard(service, districts, myDistrict, consents) {
  const [cls, label] = STATUS[service.status] || ['badge', service.status];
  const available = service.available_to_me === null || service.available_to_me === undefined ? 'unknown' : String(service.available_to_me);
  const where = service.everywhere
    ? `全市 ${districts.length} 个区（市、县）可办`
    : `试点区域：${service.districts.map((d) => d.name).join('、') || '暂无'}`;
  const live = service.status === 'live' && service.href;
  return el(
    'section',
    { class: 'card hall-card', dataset: { testid: 'hall-service', code: service.code, status: service.status, available }, 'aria-labelledby': `hall-${service.code}` },
    el('div', { class: 'card__header' }, el('h2', { class: 'card__title', id: `hall-${service.code}` }, service.name), el('span', { class: cls }, label)),
    el('p', { class: 'hall-card__summary' }, service.summary),
    el('p', { class: 'small muted' }, `办理部门：${service.department}`),
    el('div', { class: 'hall-avail' }, el('span', { class: 'hall-avail__where small' }, where), availabilityBadge(service)),
    service.everywhere ? null : districtDetails(service, districts, myDistrict),
    consentLine(service, consents),
    live
      ? el('a', { class: 'btn btn--primary btn--block hall-card__go', href: service.href, dataset: { testid: 'hall-enter' } }, '进入')
      : el('p', { class: 'hall-card__soon small muted' }, '即将上线，敬请期待'),
  );
}

async function load(host) {
  host.dataset.state = 'loading';
  replace(host, el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), '正在加载…'));
  const consentsRequest = api('/api/v1/me/consents').then((d) => d.items, (err) => (err.redirecting ? Promise.reject(err) : null));
  let hall;
  let consents;
  try {
    [hall, consents] = await Promise.all([api('/api/v1/me/services'), consentsRequest]);
  } catch (err) {
    if (err.redirecting) return;
    host.dataset.state = 'error';
    replace(host, problemBanner(err, { onRetry: () => load(host) }));
    return;
  }
  const districts = allDistricts(hall.services);
  const mine = hall.my_district;
  replace(
    host,
    el(
      'div',
      { class: 'card hall-me', dataset: { testid: 'hall-my-district', code: mine ? mine.code : '' } },
      mine
        ? el('p', {}, '您的户籍所在区：', el('strong', {}, mine.name))
        : el('p', {}, '未登记户籍所在区，暂无法判断各服务在您所在区是否可办。'),
      el('p', { class: 'small muted' }, `共 ${hall.services.length} 项服务 · 已开通 ${hall.services.filter((s) => s.status === 'live').length} 项`),
    ),
    hall.services.map((s) => serviceCard(s, districts, mine, consents)),
  );
  host.dataset.state = 'ready';
}

boot(async (_me, root) => {
  await load(root.querySelector('[data-hall="body"]'));
});
