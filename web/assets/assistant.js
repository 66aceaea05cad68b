// 便民服务平台 · 智能客服浮窗（ES module）
//
// 任何市民页面在 <head> 里加上
//   <link rel="stylesheet" href="/assets/assistant.css">
//   <script type="module" src="/assets/assistant.js"></script>
// 即在右下角出现「智能客服」按钮（有底部标签栏、合计栏时自动抬高到其上方）。
//
// 接口：POST /api/v1/assistant/ask、GET /api/v1/assistant/suggest、POST /api/v1/assistant/feedback。
// 匿名访客也能用：所有请求都不因 401 跳回登录页（redirectOn401: false），个人业务由服务端答复
// need_login / need_consent 并给出链接。服务端给的文字一律经 textContent 写入，从不拼 innerHTML。
// 会话号（session_id）取自第一条答复，之后每次提问都带上，追问补充信息（如车牌号）依赖它。
//
// 其他脚本可以用 window.dispatchEvent(new CustomEvent('assistant:open', { detail: { question } }))
// 打开浮窗（可选地直接提问），或给任意元素加 data-assistant-open 属性。

import { api, safeHomePath } from './api.js';
import { el, replace } from './dom.js';

const PAGE_BY_BODY = {
  'citizen-hpf': 'hpf',
  'citizen-sscard': 'si',
  'citizen-traffic': 'traffic',
  'citizen-loan': 'loan',
};
const TYPEAHEAD_DELAY_MS = 150;
const MAX_QUESTION = 200;
const PHONE_QUERY = '(max-width: 480px)';
const SLOT_HINTS = { plate: '请输入车牌号，如 川A12345' };
const GREETING =
  '您好，我是便民智能客服，可以为您解答公积金、社保、交通罚没、闪电贷及账户等常见问题。' +
  '登录并授权后，还能帮您查询本人的公积金余额、违法记录等。请问有什么可以帮您？';

const ICON_CHAT =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M4 5.5h16v10H10l-4.5 3.5v-3.5H4z"/><path d="M8.5 10.5h.01M12 10.5h.01M15.5 10.5h.01"/></svg>';

function pageKey() {
  return PAGE_BY_BODY[document.body.dataset.page || ''] || 'home';
}

/** 静态 SVG（本文件里的常量，不含服务端数据）。 */
function icon(markup) {
  const t = document.createElement('template');
  t.innerHTML = markup;
  return t.content.firstElementChild;
}

/** 服务端给的站内链接；不是站内路径时返回 null。 */
function safeLink(link) {
  if (typeof link !== 'string' || !link) return null;
  const path = safeHomePath(link);
  return path === link ? path : null;
}

function createWidget() {
  const page = pageKey();
  const phone = window.matchMedia(PHONE_QUERY);
  let sessionId = null;
  let pending = false;
  let chipsLoaded = false;
  let lastFocus = null;

  // ---------- 结构 ----------

  const fab = el(
    'button',
    {
      type: 'button',
      class: 'assistant-fab',
      'aria-haspopup': 'dialog',
      'aria-expanded': 'false',
      'aria-controls': 'assistant-panel',
      dataset: { testid: 'assistant-open' },
    },
    icon(ICON_CHAT),
    el('span', { class: 'assistant-fab__text' }, '智能客服'),
  );

  const closeBtn = el(
    'button',
    { type: 'button', class: 'assistant-head__close', 'aria-label': '关闭智能客服', dataset: { testid: 'assistant-close' } },
    el('span', { 'aria-hidden': 'true' }, '×'),
  );

  const log = el('div', {
    class: 'assistant-log',
    role: 'log',
    'aria-live': 'polite',
    'aria-relevant': 'additions',
    'aria-label': '对话记录',
    tabindex: '-1',
    dataset: { testid: 'assistant-log' },
  });

  const starterChips = el('div', { class: 'assistant-chips', dataset: { testid: 'assistant-starter' } });

  const list = el('ul', {
    id: 'assistant-typeahead',
    class: 'assistant-typeahead',
    role: 'listbox',
    'aria-label': '输入联想',
    hidden: true,
    dataset: { testid: 'assistant-typeahead' },
  });

  const input = el('input', {
    id: 'assistant-input',
    class: 'input assistant-input',
    type: 'text',
    enterkeyhint: 'send',
    autocomplete: 'off',
    maxlength: String(MAX_QUESTION),
    placeholder: '请输入您的问题',
    role: 'combobox',
    'aria-autocomplete': 'list',
    'aria-expanded': 'false',
    'aria-controls': 'assistant-typeahead',
    'aria-label': '输入您的问题',
    dataset: { testid: 'assistant-input' },
  });

  const sendBtn = el('button', { type: 'submit', class: 'btn btn--primary assistant-send', dataset: { testid: 'assistant-send' } }, '发送');

  const form = el('form', { class: 'assistant-compose', novalidate: true }, list, el('div', { class: 'assistant-compose__row' }, input, sendBtn));

  const panel = el(
    'div',
    {
      id: 'assistant-panel',
      class: 'assistant-panel',
      role: 'dialog',
      'aria-labelledby': 'assistant-title',
      hidden: true,
      dataset: { testid: 'assistant-panel' },
    },
    el(
      'div',
      { class: 'assistant-head' },
      el('span', { class: 'assistant-head__mark', 'aria-hidden': 'true' }, '便'),
      el(
        'div',
        { class: 'assistant-head__text' },
        el('h2', { id: 'assistant-title', class: 'assistant-head__title' }, '智能客服'),
        el('span', { class: 'assistant-head__sub' }, '答复仅供参考，以主管部门最终解释为准'),
      ),
      closeBtn,
    ),
    log,
    form,
  );

  // 问候与“猜你想问”
  log.append(
    el(
      'div',
      { class: 'assistant-msg assistant-msg--bot', dataset: { testid: 'assistant-greeting' } },
      el('p', { class: 'assistant-msg__text' }, GREETING),
      el('p', { class: 'assistant-chips__title' }, '猜你想问'),
      starterChips,
    ),
  );

  document.body.append(fab, panel);

  // ---------- 打开 / 关闭 ----------

  function applyModal() {
    if (phone.matches) panel.setAttribute('aria-modal', 'true');
    else panel.removeAttribute('aria-modal');
    document.documentElement.classList.toggle('assistant-lock', !panel.hidden && phone.matches);
  }

  function open(question) {
    if (panel.hidden) {
      lastFocus = document.activeElement;
      panel.hidden = false;
      fab.setAttribute('aria-expanded', 'true');
      fab.hidden = phone.matches;
      applyModal();
      if (!chipsLoaded) loadStarter();
    }
    input.focus();
    if (question) ask(question);
  }

  function close() {
    if (panel.hidden) return;
    hideList();
    panel.hidden = true;
    fab.hidden = false;
    fab.setAttribute('aria-expanded', 'false');
    applyModal();
    const back = lastFocus && lastFocus.isConnected && lastFocus !== document.body ? lastFocus : fab;
    back.focus();
  }

  fab.addEventListener('click', () => (panel.hidden ? open() : close()));
  closeBtn.addEventListener('click', close);
  phone.addEventListener('change', () => {
    if (!panel.hidden) fab.hidden = phone.matches;
    applyModal();
  });
  window.addEventListener('assistant:open', (e) => open(e.detail && e.detail.question));
  document.addEventListener('click', (e) => {
    const trigger = e.target.closest && e.target.closest('[data-assistant-open]');
    if (trigger) {
      e.preventDefault();
      open(trigger.dataset.assistantOpen || undefined);
    }
  });

  document.addEventListener('keydown', (e) => {
    if (panel.hidden) return;
    const inside = panel.contains(document.activeElement) || document.activeElement === fab || document.activeElement === document.body;
    if (!inside) return;
    if (e.key === 'Escape') {
      if (!list.hidden) hideList();
      else close();
      e.preventDefault();
    } else if (e.key === 'Tab' && phone.matches) {
      trapFocus(e);
    }
  });

  /** 手机上是模态全屏：Tab 在浮窗内循环。 */
  function trapFocus(e) {
    const items = [...panel.querySelectorAll('button, [href], input, textarea, select, summary, [tabindex]:not([tabindex="-1"])')].filter(
      (n) => !n.disabled && n.getClientRects().length > 0,
    );
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      last.focus();
      e.preventDefault();
    } else if (!e.shiftKey && document.activeElement === last) {
      first.focus();
      e.preventDefault();
    }
  }

  // ---------- 浮动按钮避让底部栏 ----------

  let placeQueued = false;
  function placeFab() {
    placeQueued = false;
    let lift = 0;
    for (const bar of document.querySelectorAll('.tabbar, .paybar')) {
      const r = bar.getBoundingClientRect();
      if (r.height > 0 && r.bottom >= window.innerHeight - 2) lift = Math.max(lift, window.innerHeight - r.top);
    }
    document.documentElement.style.setProperty('--assistant-lift', `${Math.round(lift)}px`);
  }
  function queuePlace() {
    if (placeQueued) return;
    placeQueued = true;
    requestAnimationFrame(placeFab);
  }
  new MutationObserver(queuePlace).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['hidden', 'class'] });
  window.addEventListener('resize', queuePlace);
  queuePlace();

  // ---------- 猜你想问 ----------

  function chip(s) {
    return el(
      'button',
      { type: 'button', class: 'assistant-chip', dataset: { testid: 'assistant-suggestion', entryId: s.entry_id || '' } },
      s.question,
    );
  }

  function renderChips(host, suggestions) {
    const items = (suggestions || []).filter((s) => s && s.question);
    replace(host, items.map(chip));
    return items.length > 0;
  }

  async function loadStarter() {
    chipsLoaded = true;
    try {
      const r = await api(`/api/v1/assistant/suggest?page=${encodeURIComponent(page)}`, { redirectOn401: false });
      if (!renderChips(starterChips, r && r.suggestions)) starterChips.previousElementSibling.hidden = true;
    } catch {
      chipsLoaded = false; // 下次打开再试；问候语本身不受影响
      starterChips.previousElementSibling.hidden = true;
    }
  }

  log.addEventListener('click', (e) => {
    const btn = e.target.closest('button');
    if (!btn || !log.contains(btn)) return;
    const id = btn.dataset.testid;
    if (id === 'assistant-suggestion' || id === 'assistant-candidate') ask(btn.textContent);
  });

  // ---------- 输入联想 ----------

  let typeTimer = null;
  let typeCtrl = null;
  let typeSeq = 0;
  let active = -1;

  function hideList() {
    list.hidden = true;
    replace(list);
    active = -1;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  }

  function setActive(i) {
    const items = list.querySelectorAll('[role="option"]');
    if (!items.length) return;
    active = (i + items.length) % items.length;
    items.forEach((n, k) => n.setAttribute('aria-selected', String(k === active)));
    input.setAttribute('aria-activedescendant', items[active].id);
    items[active].scrollIntoView({ block: 'nearest' });
  }

  function showList(suggestions) {
    const items = (suggestions || []).filter((s) => s && s.question).slice(0, 6);
    if (!items.length) return hideList();
    active = -1;
    replace(
      list,
      items.map((s, i) =>
        el(
          'li',
          {
            id: `assistant-opt-${i}`,
            class: 'assistant-typeahead__item',
            role: 'option',
            'aria-selected': 'false',
            dataset: { testid: 'assistant-typeahead-item', entryId: s.entry_id || '' },
          },
          s.question,
        ),
      ),
    );
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    input.removeAttribute('aria-activedescendant');
  }

  async function fetchTypeahead(q, seq) {
    if (typeCtrl) typeCtrl.abort();
    typeCtrl = new AbortController();
    try {
      const r = await api(`/api/v1/assistant/suggest?q=${encodeURIComponent(q)}&page=${encodeURIComponent(page)}`, {
        redirectOn401: false,
        signal: typeCtrl.signal,
      });
      // 迟到的结果（输入已变、已发送）不再展示
      if (seq === typeSeq && input.value.trim() === q && !panel.hidden) showList(r && r.suggestions);
    } catch {
      if (seq === typeSeq) hideList();
    }
  }

  input.addEventListener('input', () => {
    clearTimeout(typeTimer);
    typeSeq += 1;
    const q = input.value.trim();
    if (!q) {
      if (typeCtrl) typeCtrl.abort();
      hideList();
      return;
    }
    const seq = typeSeq;
    typeTimer = setTimeout(() => fetchTypeahead(q, seq), TYPEAHEAD_DELAY_MS);
  });

  input.addEventListener('keydown', (e) => {
    if (list.hidden) return;
    if (e.key === 'ArrowDown') {
      setActive(active + 1);
      e.preventDefault();
    } else if (e.key === 'ArrowUp') {
      setActive(active - 1);
      e.preventDefault();
    } else if (e.key === 'Enter' && active >= 0) {
      const item = list.querySelectorAll('[role="option"]')[active];
      e.preventDefault();
      if (item) pick(item);
    }
  });

  input.addEventListener('blur', () => {
    // 给点按联想项留出时间（点按时也阻止了失焦，这里是兜底）
    setTimeout(() => {
      if (document.activeElement !== input) hideList();
    }, 150);
  });

  // 按下时不让输入框失焦，手机上键盘也不会收起再弹出
  list.addEventListener('mousedown', (e) => e.preventDefault());
  list.addEventListener('click', (e) => {
    const item = e.target.closest('[role="option"]');
    if (item) pick(item);
  });

  function pick(item) {
    const question = item.textContent;
    hideList();
    ask(question);
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    ask(input.value);
  });

  // ---------- 提问与答复 ----------

  function scrollToReply(node) {
    // 长答复从开头看起，短的直接滚到底
    const top = node.offsetTop - log.offsetTop - 8;
    log.scrollTop = node.offsetHeight > log.clientHeight ? top : log.scrollHeight;
  }

  async function ask(raw) {
    const question = String(raw || '').trim().slice(0, MAX_QUESTION);
    if (!question || pending) return;
    pending = true;
    clearTimeout(typeTimer);
    typeSeq += 1;
    if (typeCtrl) typeCtrl.abort();
    hideList();
    input.value = '';
    sendBtn.setAttribute('aria-disabled', 'true');

    log.append(el('div', { class: 'assistant-msg assistant-msg--user', dataset: { testid: 'assistant-question' } }, question));
    const typing = el(
      'div',
      { class: 'assistant-msg assistant-msg--bot assistant-msg--typing', dataset: { testid: 'assistant-typing' } },
      el('span', { class: 'spinner', 'aria-hidden': 'true' }),
      '正在为您查找答案…',
    );
    log.append(typing);
    log.scrollTop = log.scrollHeight;

    const body = { question, page };
    if (sessionId) body.session_id = sessionId;
    let node;
    try {
      const reply = await api('/api/v1/assistant/ask', { method: 'POST', body, redirectOn401: false });
      if (reply && reply.session_id) sessionId = reply.session_id;
      node = renderReply(reply || {});
      const slot = reply && reply.personal && reply.personal.status === 'need_slot' ? reply.personal.slot : null;
      input.placeholder = (slot && SLOT_HINTS[slot]) || (slot ? '请补充所需信息' : '请输入您的问题');
    } catch (err) {
      node = errorReply(err, question);
    }
    typing.replaceWith(node);
    scrollToReply(node);
    pending = false;
    sendBtn.removeAttribute('aria-disabled');
    // 焦点留在浮窗内（点了联想项、候选问题的按钮仍在原处）；焦点跑丢时回到输入框
    if (!panel.hidden && !panel.contains(document.activeElement)) input.focus({ preventScroll: true });
  }

  function errorReply(err, question) {
    const retry = el('button', { type: 'button', class: 'btn btn--s' }, '重试');
    const node = el(
      'div',
      { class: 'assistant-msg assistant-msg--bot assistant-msg--error', role: 'alert', dataset: { testid: 'assistant-error', code: err.code || '' } },
      el('p', { class: 'assistant-msg__text' }, err.detail || err.message || '暂时无法回答，请稍后再试。'),
      err.requestId ? el('p', { class: 'assistant-msg__meta' }, `请求编号：${err.requestId}`) : null,
      el('div', { class: 'assistant-actions' }, retry),
    );
    retry.addEventListener('click', () => {
      node.remove();
      // 问题气泡已在记录里，重试时去掉旧的那条避免重复
      const asked = log.querySelectorAll('[data-testid="assistant-question"]');
      const last = asked[asked.length - 1];
      if (last && last.textContent === question) last.remove();
      ask(question);
    });
    return node;
  }

  function linkButton(href, text, testid, primary = true) {
    return el('a', { class: primary ? 'btn btn--primary btn--s' : 'btn btn--s', href, dataset: { testid } }, text);
  }

  function renderReply(r) {
    const outcome = ['answer', 'clarify', 'handoff'].includes(r.outcome) ? r.outcome : 'answer';
    const personal = r.personal && typeof r.personal === 'object' ? r.personal : null;
    const node = el('div', {
      class: `assistant-msg assistant-msg--bot assistant-msg--${outcome}`,
      dataset: {
        testid: 'assistant-message',
        outcome,
        entryId: r.entry_id || '',
        turnId: r.turn_id || '',
        personal: personal ? personal.status || '' : '',
      },
    });

    if (outcome === 'handoff') {
      node.append(
        el(
          'div',
          { class: 'assistant-notice', dataset: { testid: 'assistant-handoff' } },
          el('span', { class: 'assistant-notice__icon', 'aria-hidden': 'true' }, '!'),
          el('p', { class: 'assistant-msg__text' }, r.answer || '这个问题我暂时无法回答，建议您联系人工客服。'),
        ),
      );
    } else if (outcome === 'clarify') {
      node.append(
        el('p', { class: 'assistant-msg__text' }, r.answer || '您是想问：'),
        el(
          'div',
          { class: 'assistant-candidates' },
          (r.candidates || [])
            .filter((c) => c && c.question)
            .map((c) =>
              el('button', { type: 'button', class: 'assistant-candidate', dataset: { testid: 'assistant-candidate', entryId: c.entry_id || '' } }, c.question),
            ),
        ),
      );
    } else {
      if (r.demo) node.append(el('span', { class: 'badge badge--warn assistant-demo', dataset: { testid: 'assistant-demo' } }, '演示内容'));
      if (r.question && !personal) node.append(el('p', { class: 'assistant-msg__q' }, r.question));
      const failed = personal && personal.status === 'failed';
      const text = el('p', { class: 'assistant-msg__text' }, r.answer || '');
      node.append(failed ? el('div', { class: 'assistant-notice', dataset: { testid: 'assistant-failed' } }, text) : text);
      if (personal) node.append(personalActions(personal));
      if (r.source && r.source.title) node.append(citation(r.source));
      if (r.department) node.append(el('p', { class: 'assistant-msg__meta', dataset: { testid: 'assistant-department' } }, `答复部门：${r.department}`));
      const waiting = personal && ['need_login', 'need_consent', 'need_slot'].includes(personal.status);
      if (r.turn_id && !waiting) node.append(feedback(r.turn_id));
    }

    const chips = el('div', { class: 'assistant-chips' });
    if (renderChips(chips, r.suggestions)) {
      node.append(el('p', { class: 'assistant-chips__title' }, outcome === 'answer' ? '您可能还想问' : '猜你想问'), chips);
    }
    return node;
  }

  function personalActions(p) {
    const link = safeLink(p.link);
    switch (p.status) {
      case 'need_login':
        return el('div', { class: 'assistant-actions' }, linkButton(link || '/', '去登录', 'assistant-login'));
      case 'need_consent':
        return link ? el('div', { class: 'assistant-actions' }, linkButton(link, '去授权', 'assistant-consent')) : null;
      case 'done':
        return link ? el('div', { class: 'assistant-actions' }, linkButton(link, '查看详情', 'assistant-detail', false)) : null;
      default:
        return null; // need_slot：答复文字已说明要补充什么，下一句话即为补充内容
    }
  }

  function citation(source) {
    const label = `依据：${source.title}${source.article ? ` 第${source.article}条` : ''}`;
    return el(
      'details',
      { class: 'assistant-cite', dataset: { testid: 'assistant-citation', sourceId: source.id || '' } },
      el('summary', {}, label),
      source.text ? el('blockquote', { class: 'assistant-cite__text' }, source.text) : el('p', { class: 'assistant-msg__meta' }, '暂无条文摘录。'),
    );
  }

  function feedback(turnId) {
    const status = el('span', { class: 'assistant-feedback__status', role: 'status' });
    const up = el('button', { type: 'button', class: 'assistant-fb', 'aria-label': '有帮助', 'aria-pressed': 'false', dataset: { testid: 'assistant-feedback-up' } }, '有帮助');
    const down = el('button', { type: 'button', class: 'assistant-fb', 'aria-label': '没帮助', 'aria-pressed': 'false', dataset: { testid: 'assistant-feedback-down' } }, '没帮助');
    const wrap = el('div', { class: 'assistant-feedback' }, el('span', { class: 'assistant-feedback__q' }, '这个回答对您：'), up, down, status);
    let sent = false;
    async function send(helpful, btn) {
      if (sent) return;
      sent = true;
      up.disabled = true;
      down.disabled = true;
      btn.setAttribute('aria-pressed', 'true');
      try {
        await api('/api/v1/assistant/feedback', { method: 'POST', body: { turn_id: turnId, helpful }, redirectOn401: false });
        wrap.dataset.sent = 'true';
        status.textContent = helpful ? '感谢您的反馈！' : '感谢反馈，我们会持续改进。';
      } catch (err) {
        if (err.status === 409) {
          wrap.dataset.sent = 'true';
          status.textContent = '已收到您的反馈。';
          return;
        }
        sent = false;
        up.disabled = false;
        down.disabled = false;
        btn.setAttribute('aria-pressed', 'false');
        status.textContent = `反馈未提交：${err.detail || err.message}`;
      }
    }
    up.addEventListener('click', () => send(true, up));
    down.addEventListener('click', () => send(false, down));
    return wrap;
  }

  return { open, close };
}

function start() {
  if (document.querySelector('[data-testid="assistant-open"]')) return; // 重复引入时只挂一次
  createWidget();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
