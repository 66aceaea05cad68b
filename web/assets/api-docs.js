// 便民服务平台 · API 文档页（ES module）
//
// 使用 vendor/swagger-ui/ 下的本地副本（见 PROVENANCE.md），不依赖任何 CDN。
// 先用我们自己的 api() 探一次 /api/openapi.json：失败时能给出中文 problem 说明，
// 而不是 Swagger UI 的英文 “Failed to load API definition”。

import { api, ApiError } from './api.js';
import { problemBanner } from './dom.js';

const SPEC_URL = '/api/openapi.json';
const main = document.querySelector('main');
const host = document.querySelector('#swagger-ui');
const problemHost = document.querySelector('[data-docs="problem"]');

function ready() {
  main.dataset.testid = 'page-ready';
}

function fail(err) {
  host.replaceChildren();
  problemHost.replaceChildren(problemBanner(err, { onRetry: () => window.location.reload() }));
  ready();
}

async function start() {
  if (typeof window.SwaggerUIBundle !== 'function') {
    fail(new ApiError({ title: '文档组件缺失', detail: '未能加载本地 Swagger UI（/vendor/swagger-ui/）。', code: 'client.swagger_missing' }, 0));
    return;
  }
  try {
    await api(SPEC_URL, { redirectOn401: false });
  } catch (err) {
    fail(err);
    return;
  }

  host.replaceChildren();
  window.ui = window.SwaggerUIBundle({
    url: SPEC_URL,
    dom_id: '#swagger-ui',
    layout: 'BaseLayout',                     // 不带顶部 URL 输入栏，只看本服务的规范
    presets: [window.SwaggerUIBundle.presets.apis],
    deepLinking: true,
    validatorUrl: null,                       // 默认会请求 validator.swagger.io，离线环境必须关掉
    queryConfigEnabled: false,                // 不允许 ?url= 把页面指向别的规范
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    filter: true,
    onComplete: ready,
  });
}

start();
