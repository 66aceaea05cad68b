// 便民服务平台 · 机构工作台（ES module）
//
// 医院收费处、药店柜台核验电子社保卡：收款员用扫码枪扫患者手机上的动态二维码（扫码枪把内容当键盘
// 输入并以回车结束），或把内容粘贴进输入框，点“核验”。POST /api/v1/institution/sscard/verify
// 对每次扫码都答 200 和结论（valid / expired / forged / revoked / malformed / not_yet_valid），
// 有效时附持卡人脱敏姓名。结论大字、按颜色区分；本次会话的核验记录只保存在内存里，刷新页面即清空。
// 用人单位的账号无权核验（403），页面说明扫码核验只对定点医疗机构和药店开放。
//
// 扫码部分自成一节 <section data-section="scan">；用人单位另有一节 <section data-section="staff">
// （本单位职工参保情况，见 staff.js）。
// 核心企业（机构代码 inst-agroup，如 A集团）的页面不同：只有一节 <section data-section="supply">
// （数据共享协议与经销商用信情况，见 agroup.js），不显示扫码核验与职工参保。

import { boot } from './shell.js';
import { api } from './api.js';
import { el, replace, problemBanner } from './dom.js';
import { mountStaff } from './staff.js';
import { mountSupply } from './agroup.js';

/** 核心企业（供应链融资）的机构代码。 */
const CORE_ENTERPRISES = new Set(['inst-agroup']);

/** 内存中最多保留的核验记录条数。 */
const HISTORY_MAX = 50;

const VERDICT = {
  valid: { tone: 'ok', icon: '✓', title: '核验通过', hint: '电子社保卡有效，请核对本人后办理。', short: '有效' },
  expired: { tone: 'warn', icon: '!', title: '二维码已过期，请让患者刷新', hint: '动态二维码每分钟更新，过期的二维码（含截图）不能使用。', short: '已过期' },
  not_yet_valid: { tone: 'warn', icon: '!', title: '二维码尚未生效', hint: '请让患者刷新二维码后重新扫码；若反复出现，请检查本机时间。', short: '未生效' },
  forged: { tone: 'danger', icon: '×', title: '二维码无效，疑似伪造', hint: '该二维码未通过平台签名校验，请勿办理，请让患者重新出示。', short: '无效' },
  revoked: { tone: 'danger', icon: '×', title: '该电子社保卡已挂失/解绑', hint: '持卡人已在手机上解绑或挂失，此二维码不能使用。', short: '已挂失/解绑' },
  malformed: { tone: 'danger', icon: '?', title: '无法识别的二维码', hint: '请确认扫描的是“便民服务”电子社保卡的二维码。', short: '无法识别' },
};
const UNKNOWN = { tone: 'danger', icon: '?', title: '核验未通过', hint: '', short: '未通过' };

/** 东八区时分秒：14:05:09。 */
function timeZh(date) {
  return new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).format(date);
}

function scanDesk(main, side) {
  const history = []; // { at: Date, result, short, tone, holder }
  let busy = false;

  const input = el('input', {
    class: 'input scan-input mono',
    id: 'scan-input',
    type: 'text',
    autocomplete: 'off',
    autocapitalize: 'off',
    spellcheck: 'false',
    enterkeyhint: 'done',
    placeholder: '扫码枪扫描，或粘贴二维码内容后按回车',
    'aria-describedby': 'scan-hint',
    dataset: { testid: 'scan-input' },
  });
  const submit = el('button', { class: 'btn btn--primary scan-submit', type: 'submit', dataset: { testid: 'scan-submit' } }, '核验');
  const form = el(
    'form',
    { class: 'card scan-form', novalidate: true, autocomplete: 'off' },
    el('label', { class: 'field__label scan-form__label', for: 'scan-input' }, '患者电子社保卡二维码'),
    el('div', { class: 'scan-form__row' }, input, submit),
    el('p', { class: 'field__hint', id: 'scan-hint' }, '光标停在输入框内即可直接用扫码枪扫描，扫描后自动核验。'),
  );
  const verdict = el('div', { class: 'verdict', dataset: { testid: 'verdict', result: 'idle' }, role: 'status', 'aria-live': 'polite' });
  const problem = el('div', { class: 'scan-problem' });
  const list = el('ul', { class: 'scan-history', dataset: { testid: 'scan-history' } });
  const summary = el('span', { class: 'small muted' });

  replace(main, form, problem, verdict);
  replace(
    side,
    el(
      'div',
      { class: 'card scan-log' },
      el('div', { class: 'card__header' }, el('h3', { class: 'card__title' }, '本次核验记录'), summary),
      list,
      el('p', { class: 'small muted scan-log__note' }, '记录仅保存在本页面，刷新或退出后清空。'),
    ),
  );
  showIdle();
  renderHistory();

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    verify();
  });

  function showIdle() {
    verdict.dataset.result = 'idle';
    verdict.className = 'verdict verdict--idle';
    replace(
      verdict,
      el('span', { class: 'verdict__icon', 'aria-hidden': 'true' }, el('span', {}, '⌁')),
      el('div', { class: 'verdict__body' }, el('p', { class: 'verdict__title' }, '等待扫码'), el('p', { class: 'verdict__hint' }, '核验结果将显示在这里。')),
    );
  }

  async function verify() {
    const code = input.value.trim();
    if (busy) return;
    if (!code) {
      input.setAttribute('aria-invalid', 'true');
      replace(problem, problemBanner({ detail: '请先扫描或粘贴二维码内容。' }, { variant: 'warn' }));
      input.focus();
      return;
    }
    busy = true;
    input.removeAttribute('aria-invalid');
    replace(problem);
    submit.disabled = true;
    submit.textContent = '核验中…';
    verdict.dataset.state = 'pending';
    let answer;
    try {
      answer = await api('/api/v1/institution/sscard/verify', { method: 'POST', body: { code } });
    } catch (err) {
      busy = false;
      submit.disabled = false;
      submit.textContent = '核验';
      delete verdict.dataset.state;
      if (err.redirecting) return;
      if (err.status === 403) {
        forbidden(err);
        return;
      }
      replace(problem, problemBanner(err, { onRetry: () => verify() }));
      input.focus();
      return;
    }
    busy = false;
    submit.disabled = false;
    submit.textContent = '核验';
    delete verdict.dataset.state;
    show(answer);
    // 清空输入框，等下一次扫码
    input.value = '';
    input.focus();
  }

  function show(answer) {
    const v = VERDICT[answer.result] || UNKNOWN;
    const at = new Date();
    verdict.dataset.result = answer.result;
    verdict.className = `verdict verdict--${v.tone}`;
    const valid = answer.result === 'valid';
    replace(
      verdict,
      el('span', { class: 'verdict__icon', 'aria-hidden': 'true' }, el('span', {}, v.icon)),
      el(
        'div',
        { class: 'verdict__body' },
        el('p', { class: 'verdict__title' }, v.title),
        valid
          ? el('p', { class: 'verdict__holder' }, el('span', { class: 'verdict__holder-label' }, '持卡人'), el('strong', { dataset: { testid: 'verdict-holder' } }, answer.holder_name || '—'))
          : null,
        el('p', { class: 'verdict__hint' }, v.hint),
        el(
          'p',
          { class: 'verdict__meta' },
          answer.result_text ? `平台结论：${answer.result_text}` : null,
          answer.issued_at ? ` · 二维码生成于 ${timeZh(new Date(answer.issued_at))}` : null,
          ` · 核验时间 ${timeZh(at)}`,
        ),
      ),
    );
    history.unshift({ at, result: answer.result, short: v.short, tone: v.tone, holder: valid ? answer.holder_name || '—' : '—' });
    if (history.length > HISTORY_MAX) history.length = HISTORY_MAX;
    renderHistory();
  }

  function renderHistory() {
    const ok = history.filter((h) => h.result === 'valid').length;
    summary.textContent = history.length ? `共 ${history.length} 次 · 通过 ${ok} 次` : '';
    if (!history.length) {
      replace(list, el('li', { class: 'scan-history__empty' }, '暂无记录'));
      return;
    }
    replace(
      list,
      history.map((h) =>
        el(
          'li',
          { class: 'scan-history__item', dataset: { result: h.result } },
          el('span', { class: 'scan-history__time mono' }, timeZh(h.at)),
          el('span', { class: `badge badge--${h.tone}` }, h.short),
          el('span', { class: 'scan-history__holder' }, h.holder),
        ),
      ),
    );
  }

  function forbidden(err) {
    const section = main.closest('[data-section="scan"]') || main;
    section.dataset.state = 'forbidden';
    replace(
      section,
      el(
        'div',
        { class: 'card state-panel scan-forbidden', role: 'alert', dataset: { testid: 'scan-forbidden' } },
        el('div', { class: 'state-panel__icon', 'aria-hidden': 'true' }, '!'),
        el('h2', { class: 'state-panel__title' }, '扫码核验仅对定点医疗机构和药店开放'),
        el('p', { class: 'state-panel__text' }, '电子社保卡二维码用于就医、购药时核验持卡人身份。您所在的机构不是定点医疗机构或药店，无法核验。'),
        el('p', { class: 'small muted' }, err.detail || ''),
      ),
    );
  }

  return { focus: () => input.focus() };
}

let desk = null;
const me = await boot(async (me, root) => {
  const dept = me.department && me.department.name;
  const desc = root.querySelector('[data-institution="desc"]');
  if (CORE_ENTERPRISES.has(me.department && me.department.code)) {
    // 核心企业：供应链融资工作台
    root.querySelector('[data-institution="title"]').textContent = '供应链融资';
    root.querySelector('[data-institution="title"]').id = 'supply-title';
    document.title = '便民服务 · 供应链融资';
    if (desc) {
      replace(desc, '管理贵司与本行的数据共享协议，查看经销商使用供应链融资额度、向贵司支付订货款的情况。');
      if (dept) desc.prepend(el('strong', { class: 'desk-head__org', dataset: { testid: 'institution-name' } }, dept), el('br'));
    }
    root.querySelector('[data-section="scan"]').remove();
    root.querySelector('[data-section="staff"]').remove();
    await mountSupply(root.querySelector('[data-section="supply"]'));
    return;
  }
  root.querySelector('[data-section="supply"]')?.remove();
  if (dept && desc) desc.prepend(el('strong', { class: 'desk-head__org', dataset: { testid: 'institution-name' } }, dept), el('br'));
  const section = root.querySelector('[data-section="scan"]');
  desk = scanDesk(section.querySelector('[data-scan="main"]'), section.querySelector('[data-scan="side"]'));
  // 职工参保情况另行加载，不阻塞扫码台显示
  const staff = root.querySelector('[data-section="staff"]');
  if (staff) mountStaff(staff);
});
// 主体在 boot 完成后才显示，此时再把光标放进输入框，扫码枪可直接扫
if (me && desk) desk.focus();
