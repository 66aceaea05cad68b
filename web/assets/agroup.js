// 便民服务平台 · 机构工作台 · 核心企业的供应链融资（ES module，由 institution.js 为 inst-agroup 挂载）
//
// GET /api/v1/institution/supply：核心企业（A集团）自己的数据共享协议、协议的授权范围与用途、汇总数字，以及
// 已开通额度的经销商用信情况（只有经销商企业的数据，没有任何负责人的个人信息）。
// 「签署数据共享协议」POST …/agreement（{} 或 { expires_on: 'YYYY-MM-DD' }，默认一年；已有协议时即续签，
// 替换原协议）；「撤回协议」POST …/agreement/revoke（先在页面上再确认一次）。撤回后本行立即停止调用企业系统。
// 尚未在本行准入（404）时说明情况。

import { api } from './api.js';
import { el, replace, problemBanner, toast } from './dom.js';
import { dateZh, dateTimeZh } from './consent.js';

const STATE_BADGE = { active: 'badge badge--ok', expired: 'badge badge--warn', revoked: 'badge badge--danger' };
const LINE_BADGE = {
  active: 'badge badge--ok',
  lowered: 'badge badge--warn',
  frozen: 'badge badge--danger',
  expired: 'badge badge--warn',
  closed: 'badge',
};
const numFmt = new Intl.NumberFormat('zh-CN');

/** '12345.6' → '12,345.60'（纯字符串处理，不经浮点）。 */
function yuan(text) {
  const [int, frac = '00'] = String(text ?? '0').split('.');
  return `${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${frac.padEnd(2, '0')}`;
}

/** 协议的最后一天：expires_at 是最后一天结束的时刻（北京时间次日 0 点），往前 1 毫秒取日期。 */
function lastDay(iso) {
  const t = new Date(iso).getTime();
  return Number.isNaN(t) ? '—' : `${dateZh(new Date(t - 1).toISOString())}（含当日）`;
}

/** 东八区日期加 n 天（YYYY-MM-DD）。 */
function chinaDatePlus(days) {
  const d = new Date(Date.now() + days * 86400000);
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(d).map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}-${p.day}`;
}

function loadingBox(text) {
  return el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

function stat(label, value, testid, hint) {
  return el(
    'div',
    { class: 'stat', dataset: { testid } },
    el('span', { class: 'stat__label' }, label),
    el('span', { class: 'stat__value' }, value),
    hint ? el('span', { class: 'stat__hint' }, hint) : null,
  );
}

/** 在 <section data-section="supply"> 中挂载核心企业的供应链融资工作台。 */
export async function mountSupply(section) {
  section.dataset.testid = 'agroup-section';
  section.hidden = false;
  const agreementHost = el('div');
  const summaryHost = el('div');
  const usageHost = el('div');
  const outcome = el('div', { role: 'status', 'aria-live': 'polite', dataset: { testid: 'agroup-result' } });
  let data = null;

  async function load({ quiet = false } = {}) {
    section.dataset.state = 'loading';
    if (!quiet) replace(section, loadingBox('正在加载…'));
    try {
      data = await api('/api/v1/institution/supply');
    } catch (err) {
      if (err.redirecting) return;
      section.dataset.state = err.status === 404 ? 'not-onboarded' : 'error';
      replace(
        section,
        err.status === 404 || err.status === 403
          ? el(
            'div',
            { class: 'card state-panel', role: 'alert', dataset: { testid: 'agroup-unavailable', code: err.code || '' } },
            el('div', { class: 'state-panel__icon', 'aria-hidden': 'true' }, '!'),
            el('h2', { class: 'state-panel__title' }, err.status === 404 ? '尚未开通供应链融资' : '无权办理'),
            el('p', { class: 'state-panel__text' }, err.detail || err.message),
          )
          : problemBanner(err, { onRetry: () => load() }),
      );
      return;
    }
    render();
  }

  function render() {
    if (!section.contains(agreementHost)) {
      replace(
        section,
        agreementHost,
        outcome,
        summaryHost,
        usageHost,
      );
    }
    replace(agreementHost, agreementCard());
    replace(summaryHost, summaryCard());
    replace(usageHost, usageCard());
    section.dataset.state = 'ready';
  }

  function agreementCard() {
    const a = data.agreement;
    const active = a && a.state === 'active';
    const scope = (a && a.scope && a.scope.length ? a.scope : data.scope) || [];
    const problem = el('div');
    let actions;
    if (active) {
      const revoke = el('button', { class: 'btn btn--danger', type: 'button', dataset: { testid: 'agroup-revoke' } }, '撤回协议');
      const confirmHost = el('div');
      revoke.addEventListener('click', () => {
        revoke.hidden = true;
        const yes = el('button', { class: 'btn btn--danger', type: 'button', dataset: { testid: 'agroup-revoke-confirm' } }, '确认撤回');
        const no = el('button', { class: 'btn', type: 'button', dataset: { testid: 'agroup-revoke-cancel' } }, '取消');
        no.addEventListener('click', () => {
          replace(confirmHost);
          revoke.hidden = false;
          revoke.focus();
        });
        yes.addEventListener('click', async () => {
          yes.disabled = true;
          no.disabled = true;
          yes.textContent = '正在撤回…';
          replace(problem);
          try {
            await api('/api/v1/institution/supply/agreement/revoke', { method: 'POST', body: {} });
          } catch (err) {
            yes.disabled = false;
            no.disabled = false;
            yes.textContent = '确认撤回';
            if (!err.redirecting) replace(problem, problemBanner(err));
            return;
          }
          toast('数据共享协议已撤回');
          replace(outcome, el('p', { class: 'scf-outcome', dataset: { kind: 'revoked' } }, '数据共享协议已撤回：本行已停止调用贵司系统。已开通的经销商额度按合同继续还款，贷后预警随之停止。'));
          await load({ quiet: true });
        });
        replace(
          confirmHost,
          el(
            'div',
            { class: 'scf-agreement__confirm', role: 'group', 'aria-label': '确认撤回协议' },
            el('p', {}, '撤回后，本行将立即停止调用贵司系统：不再为经销商预授信，受托支付无法查询待付订单，贷后预警停止。确定撤回吗？'),
            el('div', { class: 'cluster' }, yes, no),
          ),
        );
        yes.focus();
      });
      actions = el('div', {}, el('div', { class: 'cluster scf-actions' }, revoke), confirmHost);
    } else {
      const min = chinaDatePlus(1);
      const max = chinaDatePlus(3 * 365);
      const expires = el('input', { id: 'agreement-expires', class: 'input', type: 'date', min, max, 'aria-describedby': 'agreement-expires-hint', dataset: { testid: 'agroup-expires' } });
      const sign = el('button', { class: 'btn btn--primary', type: 'submit', dataset: { testid: 'agroup-sign' } }, '签署数据共享协议');
      const form = el(
        'form',
        { class: 'scf-agreement__sign', novalidate: true },
        el(
          'div',
          { class: 'scf-agreement__row' },
          el('div', { class: 'field' }, el('label', { class: 'field__label', for: 'agreement-expires' }, '协议到期日（可选）'), expires),
          sign,
        ),
        el('p', { id: 'agreement-expires-hint', class: 'field__hint' }, '不填则自签署之日起一年；最长三年。'),
      );
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const day = expires.value;
        if (day && (day < min || day > max)) {
          expires.setAttribute('aria-invalid', 'true');
          replace(problem, problemBanner({ detail: '协议到期日应在今天之后、三年以内。', code: 'client.invalid' }, { variant: 'warn' }));
          expires.focus();
          return;
        }
        expires.removeAttribute('aria-invalid');
        sign.disabled = true;
        sign.textContent = '正在签署…';
        replace(problem);
        let signed;
        try {
          signed = await api('/api/v1/institution/supply/agreement', { method: 'POST', body: day ? { expires_on: day } : {} });
        } catch (err) {
          sign.disabled = false;
          sign.textContent = '签署数据共享协议';
          if (!err.redirecting) replace(problem, problemBanner(err));
          return;
        }
        toast('数据共享协议已签署');
        replace(outcome, el('p', { class: 'scf-outcome', dataset: { kind: 'signed' } }, `数据共享协议已签署，有效期至 ${lastDay(signed.expires_at)}。`));
        await load({ quiet: true });
      });
      actions = form;
    }
    return el(
      'article',
      { class: 'card scf-agreement', 'aria-labelledby': 'agreement-title', dataset: { testid: 'agroup-agreement', state: a ? a.state : 'none' } },
      el(
        'div',
        { class: 'card__header' },
        el('h2', { id: 'agreement-title', class: 'card__title' }, '数据共享协议'),
        el('span', { class: a ? STATE_BADGE[a.state] || 'badge' : 'badge badge--warn', dataset: { testid: 'agroup-agreement-state' } }, a ? a.state_text : '未签署'),
      ),
      el('p', { class: 'small muted scf-agreement__lead' }, `${data.name}授权本行经接入标准调用贵司经销商管理系统的下列服务。协议只涉及经销商企业的经营数据，不含经销商负责人的任何个人信息。`),
      el(
        'dl',
        { class: 'kv small scf-ent__facts' },
        el('dt', {}, '用途'), el('dd', { dataset: { testid: 'agroup-purpose' } }, (a && a.purpose) || data.purpose),
        el('dt', {}, '授权范围'),
        el(
          'dd',
          {},
          el('ul', { class: 'scf-scope', dataset: { testid: 'agroup-scope' } }, scope.map((x) => el('li', { dataset: { code: x.code } }, x.label, ' ', el('span', { class: 'mono' }, x.code)))),
        ),
        a ? [el('dt', {}, '签署时间'), el('dd', {}, dateTimeZh(a.granted_at))] : null,
        a ? [el('dt', {}, '有效期至'), el('dd', { dataset: { testid: 'agroup-expires-at' } }, lastDay(a.expires_at))] : null,
        a && a.revoked_at ? [el('dt', {}, '撤回时间'), el('dd', {}, dateTimeZh(a.revoked_at))] : null,
      ),
      active
        ? null
        : el('p', { class: 'small' }, a ? `协议${a.state_text}：本行已停止获取贵司经销商数据。重新签署后，方可继续预授信与贷后管理。` : '签署后，本行即可为贵司的经销商批量预授信，经销商可用额度直接向贵司支付订货款。'),
      problem,
      actions,
      el('p', { class: 'scf-note' }, '撤回后本行立即停止调用；已开通的经销商额度按合同继续还款，贷后预警随之停止。每次签署、撤回均记入审计日志。'),
    );
  }

  function summaryCard() {
    const s = data.summary || {};
    return el(
      'article',
      { class: 'card', 'aria-labelledby': 'agroup-summary-title' },
      el('h2', { id: 'agroup-summary-title', class: 'card__title' }, '经销商用信概况'),
      el(
        'div',
        { class: 'stat-row scf-stats', dataset: { testid: 'agroup-summary' } },
        stat('经销商', numFmt.format(s.distributors || 0), 'agroup-stat-distributors'),
        stat('已获预授信', numFmt.format(s.offered || 0), 'agroup-stat-offered', `额度合计 ¥${yuan(s.offered_limit)}`),
        stat('已开通额度', numFmt.format(s.lines || 0), 'agroup-stat-lines', `额度合计 ¥${yuan(s.line_limit)}`),
        stat('受托支付至贵司（元）', yuan(s.paid_to_enterprise), 'agroup-stat-paid'),
        stat('贷款余额（元）', yuan(s.outstanding), 'agroup-stat-outstanding'),
        stat('额度调减 / 冻结', `${numFmt.format(s.lowered || 0)} / ${numFmt.format(s.frozen || 0)}`, 'agroup-stat-warned', '依贵司订货、退货、回款数据预警'),
      ),
    );
  }

  function usageCard() {
    const rows = data.usage || [];
    return el(
      'article',
      { class: 'card', 'aria-labelledby': 'agroup-usage-title' },
      el('div', { class: 'card__header' }, el('h2', { id: 'agroup-usage-title', class: 'card__title' }, '经销商用信情况'), el('span', { class: 'small muted' }, rows.length ? `${numFmt.format(rows.length)} 户` : '')),
      rows.length
        ? el(
          'div',
          { class: 'table-wrap' },
          el(
            'table',
            { class: 'data-table scf-table', dataset: { testid: 'agroup-usage' } },
            el(
              'thead',
              {},
              el(
                'tr',
                {},
                el('th', { scope: 'col' }, '经销商'),
                el('th', { scope: 'col' }, '地区'),
                el('th', { scope: 'col', class: 'num' }, '额度（元）'),
                el('th', { scope: 'col', class: 'num' }, '贷款余额（元）'),
                el('th', { scope: 'col', class: 'num' }, '已受托支付至贵司（元）'),
                el('th', { scope: 'col' }, '额度状态'),
              ),
            ),
            el(
              'tbody',
              {},
              rows.map((r) =>
                el(
                  'tr',
                  { dataset: { testid: 'agroup-usage-row', uscc: r.uscc, status: r.status } },
                  el('td', {}, r.name, el('span', { class: 'sub mono' }, r.uscc)),
                  el('td', {}, r.city),
                  el('td', { class: 'num' }, yuan(r.limit)),
                  el('td', { class: 'num' }, yuan(r.outstanding)),
                  el('td', { class: 'num' }, yuan(r.paid_to_enterprise)),
                  el('td', {}, el('span', { class: LINE_BADGE[r.status] || 'badge' }, r.status_text)),
                ),
              ),
            ),
          ),
        )
        : el('div', { class: 'empty', dataset: { testid: 'agroup-usage-empty' } }, '暂无经销商开通额度。'),
      el('p', { class: 'scf-note' }, `本表只含经销商企业的用信情况，不含其负责人的姓名、证件、征信等个人信息。数据截至 ${dateZh(new Date().toISOString())}。`),
    );
  }

  await load();
}
