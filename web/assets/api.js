// 便民服务平台 · API 客户端（ES module）
//
// - 会话在 HttpOnly Cookie 里，JS 读不到也不需要读：只要 credentials: 'same-origin'。
// - 出错时服务端返回 application/problem+json，这里统一转成 ApiError 抛出，
//   页面可直接展示 err.detail（中文）并带上 err.requestId 便于客服排查。
// - 需要登录的页面（<body data-roles="…">）收到 401 时跳回登录页 `/`（请求签名出错的 401
//   signature.* 除外：会话仍有效，只展示错误）。
// - 防爬：每个请求带 x-bm-client: h5（浏览器被自动化驱动时追加 "; webdriver"）；市民身份调用
//   /api/v1/me/…（/api/v1/me/devices 除外）时用本机设备密钥签名（signing.js，按需动态加载）；
//   服务端回 428 guard.challenge 时求解工作量证明并重发一次。见 docs/sdk.md“Signed requests”。

/** 服务端 problem+json 的 JS 表示。额外字段（如 readyz 的 checks）保留在 .problem 上。 */
export class ApiError extends Error {
  constructor(problem, status) {
    const p = problem && typeof problem === 'object' ? problem : {};
    super(p.detail || p.title || `请求失败（HTTP ${status}）`);
    this.name = 'ApiError';
    this.status = Number(p.status) || status;
    this.type = p.type || 'about:blank';
    this.title = p.title || '';
    this.detail = p.detail || this.message;
    this.code = p.code || '';
    this.requestId = p.request_id || '';
    this.problem = p;
    /** 为 true 时页面正在被带回登录页，调用方不必再展示错误。 */
    this.redirecting = false;
  }
}

// 服务端没给 problem 体（代理报错、网络断开等）时的兜底文案。
const FALLBACK_DETAIL = {
  0: '无法连接服务器，请检查网络后重试。',
  400: '请求内容有误。',
  401: '尚未登录或登录已过期，请重新登录。',
  403: '当前身份无权执行此操作。',
  404: '请求的资源不存在。',
  429: '操作过于频繁，请稍后再试。',
  500: '服务器内部错误，请稍后再试。',
  502: '网关错误，请稍后再试。',
  503: '服务暂不可用，请稍后再试。',
  504: '服务响应超时，请稍后再试。',
};

function fallbackProblem(status, statusText) {
  return {
    type: 'about:blank',
    title: statusText || (status ? `HTTP ${status}` : '网络错误'),
    status,
    detail: FALLBACK_DETAIL[status] || `请求失败（HTTP ${status}）。`,
    code: status ? `http.${status}` : 'network.unreachable',
  };
}

// ---------- 请求签名与安全验证（防爬） ----------

/** 须签名的路径前缀，与不签名的设备登记接口（设备此时还没有已登记的密钥）。 */
const SIGNED_PREFIX = '/api/v1/me/';
const ENROLMENT_PATH = '/api/v1/me/devices';
const ASSISTANT_PATH = '/api/v1/assistant/ask';
/** 服务端要求工作量证明（428）时的问题码。 */
const CHALLENGE_CODES = new Set(['guard.challenge', 'guard.challenge_failed']);

/** x-bm-client：本客户端是 H5；被 WebDriver 等自动化驱动的浏览器如实声明。 */
function clientTag() {
  return typeof navigator !== 'undefined' && navigator.webdriver ? 'h5; webdriver' : 'h5';
}

/** 本页缓存的当前登录主体（Promise）；失败时不缓存。 */
let principal = null;

/**
 * 当前登录主体（GET /api/v1/me 的结果），本页只请求一次。未登录时抛 401 ApiError（不跳转）。
 * @returns {Promise<{id: string, role: string}>}
 */
export function currentPrincipal() {
  if (!principal) {
    principal = api('/api/v1/me', { redirectOn401: false }).catch((e) => {
      principal = null;
      throw e;
    });
  }
  return principal;
}

/**
 * 这个同源路径的请求是否须签名：向智能客服提问（会用本人数据回答个人问题），以及 /api/v1/me/ 之下
 * 设备登记接口与事件流（…/events，浏览器用 EventSource 打开，无法附加请求头）之外的请求。
 * 与 bianmin_sdk::is_signed_path 一致。
 */
function isSignedPath(pathname) {
  if (pathname === ASSISTANT_PATH) return true;
  const enrolment = pathname === ENROLMENT_PATH || pathname.startsWith(`${ENROLMENT_PATH}/`);
  return pathname.startsWith(SIGNED_PREFIX) && !enrolment && !pathname.endsWith('/events');
}

/** 是否为 path 的请求签名：路径须签名，且当前登录的是市民（企业用户等也用 /citizen/ 页面，但没有设备密钥）。 */
async function shouldSign(path) {
  const url = new URL(path, location.origin);
  if (url.origin !== location.origin || !isSignedPath(url.pathname)) return false;
  try {
    return (await currentPrincipal()).role === 'citizen';
  } catch {
    return false; // 未登录：不签名，由请求本身的 401 按原有方式处理
  }
}

/** 读出错误应答的 problem（不消耗原应答体）；不是 JSON 时为 null。 */
async function peekProblem(res) {
  if (!isJson(res)) return null;
  try {
    return await res.clone().json();
  } catch {
    return null;
  }
}

/** 签名失败（设备无法登记、密码组件加载失败等）时抛出：不发送未签名的请求。 */
function signingFailed(e) {
  const cause = e instanceof ApiError ? e : null;
  const reason = cause ? cause.detail : '';
  return new ApiError(
    {
      title: '无法签名',
      status: cause ? cause.status : 0,
      code: cause && cause.code ? cause.code : 'client.signing_failed',
      detail: `本机设备未能完成签名，请求未发送。${reason}`,
      request_id: cause ? cause.requestId : '',
    },
    cause ? cause.status : 0,
  );
}

async function signatureHeaders(method, path, bodyText) {
  try {
    const { signedHeaders } = await import('./signing.js');
    return await signedHeaders(method, path, bodyText);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw signingFailed(e);
  }
}

/**
 * 发送一个请求（不解读应答）：加 x-bm-client，需要时签名；428 安全验证求解后重发一次（重新签名）；
 * 签名因本机时钟不准（signature.stale）或设备已失效（signature.unknown_device）被拒时，校正时钟或
 * 重新登记设备后重发一次。其余应答原样返回；网络错误原样抛出。
 */
async function sendGuarded(path, { method, headers, bodyText, signal }) {
  const sign = await shouldSign(path);
  let challengeAnswer = null;
  let signatureRetried = false;
  for (;;) {
    const sent = { ...headers, 'x-bm-client': clientTag() };
    if (sign) Object.assign(sent, await signatureHeaders(method, path, bodyText));
    if (challengeAnswer) sent['x-bm-challenge'] = challengeAnswer;
    const res = await fetch(path, { method, headers: sent, body: bodyText, credentials: 'same-origin', signal });
    if (res.status === 428 && !challengeAnswer) {
      const problem = await peekProblem(res);
      const token = problem && problem.challenge && problem.challenge.token;
      if (CHALLENGE_CODES.has(problem && problem.code) && token) {
        const { solveChallenge } = await import('./signing.js');
        challengeAnswer = `${token}:${await solveChallenge(token, { signal })}`;
        continue;
      }
    }
    if (res.status === 401 && sign && !signatureRetried) {
      const problem = await peekProblem(res);
      const code = problem && problem.code;
      if (code === 'signature.stale') {
        const { adjustClock } = await import('./signing.js');
        signatureRetried = adjustClock(res.headers.get('Date'));
        if (signatureRetried) continue;
      } else if (code === 'signature.unknown_device') {
        const { resetDeviceKey } = await import('./devicekey.js');
        resetDeviceKey();
        signatureRetried = true;
        continue;
      }
    }
    return res;
  }
}

/** 401 是否意味着登录失效：请求签名的错误（signature.*）不是，会话仍然有效。 */
function sessionExpired(err) {
  return err.status === 401 && !String(err.code).startsWith('signature.');
}

/** 当前页面是否需要登录：页面在 <body> 上声明了 data-roles。 */
function pageNeedsLogin() {
  return Boolean(document.body && document.body.hasAttribute('data-roles'));
}

function isJson(res) {
  const ct = res.headers.get('content-type') || '';
  return /\bjson\b/i.test(ct); // application/json 与 application/problem+json
}

async function toApiError(res) {
  let problem = null;
  if (isJson(res)) {
    try {
      problem = await res.json();
    } catch {
      problem = null; // 体不是合法 JSON，走兜底
    }
  }
  return new ApiError(problem || fallbackProblem(res.status, res.statusText), res.status);
}

/**
 * 调用同源 JSON API。
 * @param {string} path  例如 '/api/v1/me'
 * @param {object} [opts]
 * @param {string} [opts.method='GET']
 * @param {*}      [opts.body]           会被 JSON.stringify
 * @param {boolean}[opts.redirectOn401]  默认：页面需要登录时为 true
 * @param {AbortSignal} [opts.signal]
 * @returns {Promise<any>} 解析后的 JSON；204 / 空体返回 null
 */
export async function api(path, { method = 'GET', body, redirectOn401 = pageNeedsLogin(), signal } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  // 所有写请求都带 JSON Content-Type（即使无请求体）：服务端可据此拒绝跨站表单提交。
  if (method !== 'GET' && method !== 'HEAD') {
    headers['Content-Type'] = 'application/json';
  }
  // 只序列化一次：签名的正是发送的这串字节。
  const bodyText = body === undefined ? undefined : JSON.stringify(body);

  let res;
  try {
    res = await sendGuarded(path, { method, headers, bodyText, signal });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    if (e instanceof ApiError) throw e;
    throw new ApiError(fallbackProblem(0), 0);
  }

  if (!res.ok) {
    const err = await toApiError(res);
    if (sessionExpired(err) && redirectOn401) {
      err.redirecting = true;
      window.location.assign('/');
    }
    throw err;
  }

  if (res.status === 204 || res.status === 205) return null;
  const text = await res.text();
  if (!text) return null;
  if (!isJson(res)) return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(
      { title: '响应格式错误', detail: '服务器返回的数据无法解析。', code: 'client.bad_json', status: res.status },
      res.status,
    );
  }
}

/** 当前登录主体；未登录时抛 401 ApiError（需要登录的页面会被带回 `/`）。结果同时记作本页的 currentPrincipal()。 */
export async function getMe(opts = {}) {
  const me = await api('/api/v1/me', opts);
  principal = Promise.resolve(me);
  return me;
}

/** 退出登录。已经过期（401）也视为成功，因为目的就是“没有会话”。 */
export async function logout() {
  try {
    await api('/api/v1/auth/logout', { method: 'POST', redirectOn401: false });
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) throw e;
  }
}

/**
 * 只接受站内路径作为跳转目标，防止服务端数据被篡改后变成开放重定向。
 * '/citizen/' 可以；'//evil.example'、'https://…'、'javascript:' 都不行。
 */
export function safeHomePath(home) {
  if (typeof home === 'string' && home.startsWith('/') && !home.startsWith('//') && !home.startsWith('/\\')) {
    return home;
  }
  return '/';
}

// ---------- 动钱的请求（带 Idempotency-Key；api() 不支持自定义请求头） ----------

/** 动钱请求的超时：超时后结果未知，只能用同一个键重试来确认。 */
const MONEY_TIMEOUT_MS = 20000;

/**
 * POST `body` 到 `path`，带 `Idempotency-Key: key`；错误处理与 api() 一致。
 * 请求没发出去、超时或应答没收全时抛 status 0 的 ApiError（结果未知，用同一个键重试）。
 * @param {string} path
 * @param {unknown} body
 * @param {string} key
 */
export async function postIdempotent(path, body, key) {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, MONEY_TIMEOUT_MS);
  try {
    const res = await sendGuarded(path, {
      method: 'POST',
      headers: {
        Accept: 'application/json, application/problem+json',
        'Content-Type': 'application/json',
        'Idempotency-Key': key,
      },
      bodyText: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!res.ok) {
      let problem = null;
      if (/\bjson\b/i.test(res.headers.get('content-type') || '')) {
        try {
          problem = await res.json();
        } catch {
          problem = null;
        }
      }
      const err = new ApiError(
        problem || { title: `HTTP ${res.status}`, status: res.status, code: `http.${res.status}`, detail: `请求失败（HTTP ${res.status}）。` },
        res.status,
      );
      if (sessionExpired(err)) {
        err.redirecting = true;
        window.location.assign('/');
      }
      throw err;
    }
    return await res.json();
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(
      {
        title: timedOut ? '请求超时' : '网络错误',
        status: 0,
        code: timedOut ? 'network.timeout' : 'network.unreachable',
        detail: timedOut ? '请求超时，结果未知。' : '网络异常，结果未知。',
      },
      0,
    );
  } finally {
    clearTimeout(timer);
  }
}

/** 失败后能否用同一个键重试：网络、超时、服务端暂时故障、同键请求处理中。其余是最终答复。 */
export function retryable(err) {
  return err.status === 0 || err.status >= 500 || err.status === 429 || err.code === 'idempotency.in_progress';
}
