// 便民服务平台 · 消息中心（ES module）
//
// GET /api/v1/me/inbox：业务通知与自动回访（followup），新的在前。
// 点开一条消息即标记已读（POST /api/v1/me/inbox/{id}/read）；回访消息带满意度问卷：
// 五个选项按钮 + 可选留言（≤200 字），提交 POST …/{id}/survey，之后只展示已记录的评价。
// 打开页面时自动展开第一条未读消息（或地址 #<id> 指定的那条）。

import { boot } from './shell.js';
import { api } from './api.js';
import { el, replace, problemBanner, toast } from './dom.js';

const MAX_COMMENT = 200;
const DEFAULT_OPTIONS = [
  { score: 5, label: '非常满意' },
  { score: 4, label: '满意' },
  { score: 3, label: '一般' },
  { score: 2, label: '不满意' },
  { score: 1, label: '非常不满意' },
];

const timeFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

/** RFC3339 → 北京时间 “2025/06/01 14:05”。 */
function beijing(value) {
  if (!value) return '—';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : timeFmt.format(d);
}

function safeId(id) {
  return String(id).replace(/[^0-9a-zA-Z_-]/g, '');
}

function inboxView(host) {
  /** id → { msg, card, body, head } */
  const rows = new Map();
  let countLine = null;

  function updateCount() {
    if (!countLine) return;
    const all = [...rows.values()];
    const unread = all.filter((r) => !r.msg.read).length;
    countLine.dataset.unread = String(unread);
    countLine.textContent = unread ? `共 ${all.length} 条消息，${unread} 条未读` : `共 ${all.length} 条消息，均已读`;
  }

  async function markRead(row) {
    if (row.msg.read) return;
    row.msg.read = true; // 先乐观更新，失败再改回
    row.card.dataset.read = 'true';
    row.unreadBadge.hidden = true;
    updateCount();
    try {
      await api(`/api/v1/me/inbox/${encodeURIComponent(row.msg.id)}/read`, { method: 'POST' });
    } catch (err) {
      if (err.redirecting) return;
      row.msg.read = false;
      row.card.dataset.read = 'false';
      row.unreadBadge.hidden = false;
      updateCount();
    }
  }

  function toggle(row, open) {
    const expand = open === undefined ? row.head.getAttribute('aria-expanded') !== 'true' : open;
    row.head.setAttribute('aria-expanded', String(expand));
    row.body.hidden = !expand;
    if (expand) markRead(row);
  }

  function answeredBlock(survey) {
    const a = survey.answered;
    const opts = survey.options && survey.options.length ? survey.options : DEFAULT_OPTIONS;
    const opt = opts.find((o) => Number(o.score) === Number(a.score));
    return el(
      'div',
      { class: 'survey-answered', role: 'status', dataset: { testid: 'inbox-survey-answered', score: String(a.score) } },
      el('span', { class: 'small muted' }, survey.question || '您对本次服务满意吗？'),
      el('span', { class: 'survey-answered__score' }, opt ? `您的评价：${opt.label}（${a.score} 分）` : `您的评价：${a.score} 分`),
      a.comment ? el('span', { class: 'inbox-msg__text' }, `留言：${a.comment}`) : null,
      el('span', { class: 'small muted' }, `提交于 ${beijing(a.answered_at)}（北京时间）· 感谢您的反馈`),
    );
  }

  function surveyForm(row) {
    const { msg } = row;
    const survey = msg.survey;
    const id = safeId(msg.id);
    let score = null;
    const options = (survey.options && survey.options.length ? survey.options : DEFAULT_OPTIONS).map((o) =>
      el(
        'button',
        { type: 'button', class: 'survey__option', 'aria-pressed': 'false', dataset: { testid: 'inbox-survey-option', score: String(o.score) } },
        el('span', { class: 'survey__option-score', 'aria-hidden': 'true' }, String(o.score)),
        el('span', {}, o.label),
      ),
    );
    const comment = el('textarea', {
      id: `comment-${id}`, class: 'textarea', rows: '3', maxlength: String(MAX_COMMENT),
      placeholder: '选填，最多 200 字', 'aria-describedby': `comment-count-${id}`, dataset: { testid: 'inbox-survey-comment' },
    });
    const counter = el('span', { id: `comment-count-${id}`, class: 'field__hint survey__count' }, `0/${MAX_COMMENT}`);
    const problem = el('div');
    const submit = el('button', { type: 'submit', class: 'btn btn--primary btn--block', dataset: { testid: 'inbox-survey-submit' } }, '提交评价');

    const form = el(
      'form',
      { class: 'survey-form', novalidate: true },
      el(
        'fieldset',
        { class: 'survey' },
        el('legend', {}, survey.question || '您对本次服务满意吗？'),
        el('div', { class: 'survey__options', role: 'group', 'aria-label': '满意度' }, options),
        el(
          'div',
          { class: 'field' },
          el('label', { class: 'field__label', for: `comment-${id}` }, '留言（选填）'),
          comment,
          counter,
        ),
        problem,
        el('div', { class: 'survey__actions' }, submit),
      ),
    );

    for (const btn of options) {
      btn.addEventListener('click', () => {
        score = Number(btn.dataset.score);
        for (const b of options) b.setAttribute('aria-pressed', String(b === btn));
        replace(problem);
      });
    }
    comment.addEventListener('input', () => {
      counter.textContent = `${Array.from(comment.value).length}/${MAX_COMMENT}`;
    });

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (score === null) {
        replace(problem, problemBanner({ detail: '请先选择您的满意程度。', code: 'client.invalid' }, { variant: 'warn' }));
        options[0].focus();
        return;
      }
      const body = { score };
      const text = comment.value.trim();
      if (text) body.comment = Array.from(text).slice(0, MAX_COMMENT).join('');
      submit.disabled = true;
      submit.textContent = '正在提交…';
      replace(problem);
      try {
        const updated = await api(`/api/v1/me/inbox/${encodeURIComponent(msg.id)}/survey`, { method: 'POST', body });
        row.msg = { ...msg, ...(updated || {}), read: true };
        if (!row.msg.survey || !row.msg.survey.answered) {
          // 服务端没回带问卷时按本次提交展示
          row.msg.survey = { ...survey, answered: { score, comment: body.comment || '', answered_at: new Date().toISOString() } };
        }
        renderSurvey(row);
        toast('感谢您的评价');
      } catch (err) {
        if (err.redirecting) return;
        submit.disabled = false;
        submit.textContent = '提交评价';
        if (err.status === 409) {
          // 已经评价过（例如在另一台设备上）：取回记录的评价展示
          toast(err.detail || '您已评价过本次服务');
          await refreshOne(row);
        } else {
          replace(problem, problemBanner(err));
        }
      }
    });
    return form;
  }

  function renderSurvey(row) {
    const survey = row.msg.survey;
    if (!survey) {
      replace(row.surveyHost);
      return;
    }
    replace(row.surveyHost, survey.answered ? answeredBlock(survey) : surveyForm(row));
  }

  async function refreshOne(row) {
    try {
      const r = await api('/api/v1/me/inbox');
      const fresh = ((r && r.messages) || []).find((m) => m.id === row.msg.id);
      if (fresh) {
        row.msg = fresh;
        renderSurvey(row);
      }
    } catch (err) {
      if (!err.redirecting) replace(row.surveyHost, problemBanner(err));
    }
  }

  function messageCard(msg) {
    const id = safeId(msg.id);
    const unreadBadge = el('span', { class: 'badge badge--accent', hidden: Boolean(msg.read) }, '未读');
    const head = el(
      'button',
      { type: 'button', class: 'inbox-msg__head', 'aria-expanded': 'false', 'aria-controls': `msg-${id}` },
      el('span', { class: 'inbox-msg__dot', 'aria-hidden': 'true' }),
      el(
        'span',
        { class: 'inbox-msg__main' },
        el('span', { class: 'inbox-msg__title' }, msg.title || '通知'),
        el(
          'span',
          { class: 'cluster' },
          el('time', { class: 'inbox-msg__time', datetime: msg.created_at || '' }, `${beijing(msg.created_at)}（北京时间）`),
          msg.kind === 'followup' ? el('span', { class: 'badge badge--info' }, '服务回访') : null,
          unreadBadge,
        ),
      ),
      el('span', { class: 'inbox-msg__chev', 'aria-hidden': 'true' }, '›'),
    );
    const surveyHost = el('div');
    const body = el('div', { id: `msg-${id}`, class: 'inbox-msg__body', hidden: true }, el('p', { class: 'inbox-msg__text' }, msg.body || ''), surveyHost);
    const card = el(
      'article',
      { class: 'card inbox-msg', dataset: { testid: 'inbox-message', id: msg.id, read: String(Boolean(msg.read)), kind: msg.kind || '' } },
      head,
      body,
    );
    const row = { msg, card, head, body, surveyHost, unreadBadge };
    head.addEventListener('click', () => toggle(row));
    renderSurvey(row);
    rows.set(msg.id, row);
    return card;
  }

  async function load() {
    host.dataset.state = 'loading';
    replace(host, el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), '正在加载…'));
    rows.clear();
    try {
      const r = await api('/api/v1/me/inbox');
      const messages = (r && r.messages) || [];
      if (!messages.length) {
        replace(host, el('div', { class: 'card' }, el('div', { class: 'empty', dataset: { testid: 'inbox-empty' } }, '暂无消息', el('span', { class: 'small' }, '业务办理后的通知与回访会出现在这里。'))));
        host.dataset.state = 'empty';
        return;
      }
      countLine = el('p', { class: 'small muted', role: 'status', dataset: { testid: 'inbox-count' } });
      replace(host, el('div', { class: 'stack stack--s' }, countLine, el('ul', { class: 'inbox-list' }, messages.map((m) => el('li', {}, messageCard(m))))));
      updateCount();
      host.dataset.state = 'ready';

      const wanted = decodeURIComponent(window.location.hash.replace(/^#/, ''));
      const first = rows.get(wanted) || [...rows.values()].find((row) => !row.msg.read);
      if (first) toggle(first, true);
    } catch (err) {
      if (err.redirecting) return;
      host.dataset.state = 'error';
      replace(host, problemBanner(err, { onRetry: () => load() }));
    }
  }

  return { load };
}

boot(async (me, root) => {
  await inboxView(root.querySelector('[data-inbox="body"]')).load();
});
