// 便民服务平台 · 小型 DOM 工具（ES module）
//
// 所有文本都经 textContent 写入，从不拼 innerHTML，
// 服务端或人设数据里出现的 “<” 之类字符不会被当成标签。

/**
 * 创建元素。
 *   el('p', { class: 'muted', dataset: { testid: 'x' } }, '文字', childNode)
 * attrs 中：class → className；dataset → data-*；on* 函数 → 事件监听；
 * 值为 false/null/undefined 的属性跳过，true 写成空属性。
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** 清空并填入新内容。 */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/**
 * 问题横幅：展示 ApiError / problem+json。
 * 醒目行用 detail（服务端给的中文说明）；title（可能是英文短语）、code、request_id 放在小字里，
 * 带 request_id 是为了用户截图给客服时能定位到服务端日志。
 * @param {object} err  ApiError 或任何含 title/detail 的对象
 * @param {object} [opts]
 * @param {Function} [opts.onRetry]  提供时显示“重试”按钮
 * @param {string} [opts.variant]    'warn' 时用黄色
 */
export function problemBanner(err, { onRetry, variant } = {}) {
  const detail = err.detail || err.message || '发生未知错误。';
  const meta = [];
  if (err.title && err.title !== detail) meta.push(err.title);
  if (err.code) meta.push(`错误码：${err.code}`);
  if (err.requestId) meta.push(`请求编号：${err.requestId}`);

  return el(
    'div',
    { class: variant === 'warn' ? 'problem problem--warn' : 'problem', role: 'alert', dataset: { testid: 'problem', code: err.code || '' } },
    el('span', { class: 'problem__icon', 'aria-hidden': 'true' }, '!'),
    el(
      'div',
      { class: 'problem__body' },
      el('div', { class: 'problem__detail' }, detail),
      meta.length ? el('div', { class: 'problem__meta' }, meta.join(' · ')) : null,
      onRetry
        ? el('div', { class: 'problem__actions' }, el('button', { class: 'btn btn--s', type: 'button', onclick: onRetry }, '重试'))
        : null,
    ),
  );
}

let toastRegion = null;

/** 轻提示：屏幕阅读器通过 aria-live 同样能听到。 */
export function toast(message, { duration = 2400 } = {}) {
  if (!toastRegion || !toastRegion.isConnected) {
    toastRegion = el('div', { class: 'toast-region', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastRegion);
  }
  // 同一时间只留一条，连点不会堆成一串
  const node = el('div', { class: 'toast', dataset: { testid: 'toast' } }, message);
  toastRegion.replaceChildren(node);
  setTimeout(() => node.remove(), duration);
  return node;
}

/** 文字头像：取姓名最后一个字（服务端脱敏后形如 “*伟”）。 */
export function avatarChar(name) {
  const chars = Array.from(String(name || '').replace(/\*/g, ''));
  return chars.length ? chars[chars.length - 1] : '便';
}
