// 便民服务平台 · 政府部门驾驶舱大屏（ES module）
//
// 所有数字都来自 GET /api/v1/cockpit/query（见 docs/insight.md），实时动态来自
// GET /api/v1/cockpit/live（SSE）。查询无数据显示“暂无数据”，失败显示错误行，从不编造数字。
// 少于 5 人的格子服务端返回 suppressed，这里显示“<5人 不显示”。
// ECharts 由 index.html 以同源经典脚本加载（全局 echarts）；缺失时图表退化为表格/网格。

import { boot } from './shell.js';
import { api } from './api.js';
import { el, replace } from './dom.js';

// ---------- 配置 ----------

/** 告警阈值：KPI 越线时加红框和“告警”角标（data-alert="true"）。 */
const ALERTS = {
  successRateMin: 0.95, // 今日成功率低于 95 %
  p99MaxMs: 2000, // 今日 p99 响应时间高于 2000 ms
  mauChangeMin: 0, // 月活环比低于 0（下降）
};

/** 面板自动刷新间隔。 */
const REFRESH_MS = 60_000;
/** 实时动态最多保留条数。 */
const TICKER_MAX = 20;
const DEFAULT_RANGE = 30;

const QUERY = '/api/v1/cockpit/query';
const LIVE = '/api/v1/cockpit/live';
const GEO_URL = '/vendor/chengdu-geo/chengdu.geo.json';
const MAP_NAME = 'chengdu';

const TZ = 'Asia/Shanghai';
const DAY_MS = 86_400_000;
const CN_OFFSET_MS = 8 * 3_600_000; // 中国不实行夏令时，固定 UTC+8

const SUPPRESSED_TEXT = '<5人 不显示';

const SERVICE_NAMES = {
  'hpf.account': '公积金查询',
  'hpf.deposits': '缴存明细',
  'hpf.loan_quota': '贷款额度',
  'hpf.withdrawal': '提取资格',
  'sscard.card': '社保卡',
  'sscard.qr': '社保码',
  'sscard.activate': '社保卡启用',
  'si.contributions': '缴费记录',
  'traffic.violations': '违法查询',
  'traffic.vehicles': '车辆',
  'traffic.licence': '驾驶证',
  'traffic.pay': '罚款缴纳',
  loan: '闪电贷',
  assistant: '智能客服',
};

const DEPARTMENT_NAMES = {
  hpf: '公积金中心',
  hrss: '人社局',
  traffic: '交管局',
  tax: '税务局',
  data: '政务办',
  bank: '银行',
};

const METRIC_STEPS = {
  loan_applied: '申请',
  loan_decided: '审批',
  loan_signed: '签约',
  loan_drawn: '提款',
  assistant_turn: '提问',
  survey: '评价',
};

const OUTCOME_NAMES = {
  ok: '成功',
  approved: '审批通过',
  declined: '审批拒绝',
  answer: '已解答',
  clarify: '追问澄清',
  handoff: '转人工',
  'consent.required': '需授权',
  'exchange.timeout': '接口超时',
  'exchange.unavailable': '接口不可用',
  'traffic.amount_changed': '金额已变动',
};

const CHANNEL_NAMES = { h5: 'H5', app: 'App', api: '开放接口' };

const DIM_LABELS = {
  service: '事项',
  department: '部门',
  district: '区（市）县',
  channel: '渠道',
  outcome: '结果',
  age_band: '年龄段',
};

/** 成都 20 个区（市）县，顺序与 docs/map-data.md 一致（网格兜底按此顺序）。 */
const DISTRICTS = [
  ['510104', '锦江区'], ['510105', '青羊区'], ['510106', '金牛区'], ['510107', '武侯区'],
  ['510108', '成华区'], ['510112', '龙泉驿区'], ['510113', '青白江区'], ['510114', '新都区'],
  ['510115', '温江区'], ['510116', '双流区'], ['510117', '郫都区'], ['510118', '新津区'],
  ['510121', '金堂县'], ['510129', '大邑县'], ['510131', '蒲江县'], ['510181', '都江堰市'],
  ['510182', '彭州市'], ['510183', '邛崃市'], ['510184', '崇州市'], ['510185', '简阳市'],
];
const districtNames = new Map(DISTRICTS);

const RANGE_LABELS = { 7: '近7天', 30: '近30天', 90: '近90天', 365: '近一年' };

const COLORS = {
  accent: '#3cc8ff',
  gold: '#f5c451',
  ok: '#4ade80',
  danger: '#ff6b81',
  warn: '#fbbf24',
  text: '#e6edf7',
  muted: '#8ea3c0',
  grid: 'rgba(142, 163, 192, 0.18)',
  suppressed: '#3a4a66',
};

// ---------- 格式化 ----------

const timeFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TZ, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});
const dateFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TZ, year: 'numeric', month: 'long', day: 'numeric', weekday: 'long',
});
const dayFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit',
});
const numFmt = new Intl.NumberFormat('zh-CN');

function fmtInt(n) {
  return n === null || n === undefined ? '—' : numFmt.format(n);
}
function fmtPct(ratio, digits = 1) {
  return `${(ratio * 100).toFixed(digits)}%`;
}
function fmtMs(ms) {
  return ms === null || ms === undefined ? '—' : `${numFmt.format(Math.round(ms))} ms`;
}
/** 'YYYY-MM-DD'（北京时间）。 */
function fmtDay(ms) {
  const parts = Object.fromEntries(dayFmt.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}
function fmtBucket(iso, granularity) {
  if (!iso) return '合计';
  const ms = Date.parse(iso);
  if (granularity === 'day') return fmtDay(ms);
  return `${fmtDay(ms)} ${timeFmt.format(new Date(ms))}`;
}
function serviceName(code) {
  return SERVICE_NAMES[code] || code || '—';
}
function departmentName(code) {
  return DEPARTMENT_NAMES[code] || code || '—';
}
function districtName(code) {
  if (!code) return '区县未知';
  return districtNames.get(code) || code;
}
function outcomeName(code) {
  if (code === null || code === undefined) return '—';
  if (OUTCOME_NAMES[code]) return OUTCOME_NAMES[code];
  if (/^[1-5]$/.test(code)) return `${code} 分`;
  return code;
}
function dimValue(dim, value) {
  switch (dim) {
    case 'service': return serviceName(value);
    case 'department': return departmentName(value);
    case 'district': return districtName(value);
    case 'outcome': return outcomeName(value);
    case 'channel': return CHANNEL_NAMES[value] || value;
    default: return value;
  }
}
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
function errorText(err) {
  return (err && (err.detail || err.message)) || '查询失败';
}
/** 按 1920 宽设计的像素值随屏缩放（ECharts 字号用）。 */
function px(n) {
  const scale = Math.max(0.6, Math.min(2, window.innerWidth / 1920));
  return Math.round(n * scale);
}

// ---------- 时间范围（北京时间自然日） ----------

function chinaDayStart(ms) {
  return Math.floor((ms + CN_OFFSET_MS) / DAY_MS) * DAY_MS - CN_OFFSET_MS;
}
function iso(ms) {
  return new Date(ms).toISOString();
}
/** 以今天为最后一天的 days 个自然日：[from, to)。 */
function lastDays(days, endDayOffset = 0) {
  const today = chinaDayStart(Date.now());
  const to = today + DAY_MS - endDayOffset * DAY_MS;
  return { from: to - days * DAY_MS, to };
}

// ---------- 查询 ----------

function queryUrl(params, format) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  if (format) search.set('format', format);
  return `${QUERY}?${search.toString()}`;
}

/**
 * 一次洞察查询。返回 { title, params, url, answer }；失败抛 ApiError（附带 query）。
 */
async function runQuery(title, params) {
  const url = queryUrl(params);
  const query = { title, params, url, csv: queryUrl(params, 'csv'), answer: null, error: null };
  try {
    query.answer = await api(url);
    if (query.answer && 'department_scope' in query.answer) {
      state.scope = query.answer.department_scope;
      state.scopeKnown = true;
    }
  } catch (err) {
    if (err && err.redirecting) throw err;
    query.error = err;
  }
  return query;
}

function rowsOf(query) {
  return (query && query.answer && Array.isArray(query.answer.rows)) ? query.answer.rows : [];
}

// ---------- 状态 ----------

const state = {
  me: null,
  range: DEFAULT_RANGE,
  scope: null,
  scopeKnown: false,
  drill: {}, // 面板 → 查询列表（明细用）
  charts: {}, // 面板 → echarts 实例
  gen: {}, // 面板 → 代数（防止旧请求覆盖新结果）
  geo: null, // Promise<{ ok, error }>
  ticker: [],
};

function nextGen(panel) {
  state.gen[panel] = (state.gen[panel] || 0) + 1;
  return state.gen[panel];
}
function isCurrent(panel, gen) {
  return state.gen[panel] === gen;
}

function hasEcharts() {
  return typeof window.echarts === 'object' && window.echarts !== null && typeof window.echarts.init === 'function';
}

// ---------- 面板工具 ----------

function panel(name) {
  return document.querySelector(`[data-panel="${name}"]`);
}
function body(name) {
  return panel(name).querySelector('.frame__body');
}
function disposeChart(name) {
  const chart = state.charts[name];
  if (chart) {
    try { chart.dispose(); } catch { /* 已销毁 */ }
    delete state.charts[name];
  }
}
function setPanelState(name, value) {
  panel(name).dataset.state = value;
}
function showEmpty(name, text = '暂无数据') {
  disposeChart(name);
  setPanelState(name, 'empty');
  replace(body(name), el('div', { class: 'empty', dataset: { state: 'empty' } }, text));
}
function showError(name, err) {
  disposeChart(name);
  setPanelState(name, 'error');
  replace(
    body(name),
    el('div', { class: 'cockpit-error', role: 'alert', dataset: { testid: 'panel-error' } },
      el('span', { class: 'cockpit-error__icon', 'aria-hidden': 'true' }, '!'),
      `加载失败：${errorText(err)}`,
      err && err.requestId ? el('span', { class: 'cockpit-error__meta' }, `请求编号 ${err.requestId}`) : null),
  );
}
/** 把 option 画到面板里（复用实例）；ECharts 不可用时返回 false。 */
function drawChart(name, option) {
  if (!hasEcharts()) return false;
  let chart = state.charts[name];
  const host = body(name);
  if (!chart || chart.isDisposed() || !host.contains(chart.getDom())) {
    disposeChart(name);
    const dom = el('div', { class: 'cockpit-chart' });
    replace(host, dom);
    chart = window.echarts.init(dom, null, { renderer: 'canvas' });
    state.charts[name] = chart;
    observeSize(dom, chart);
  }
  chart.setOption(option, true);
  setPanelState(name, 'ready');
  return true;
}

const resizeObserver = typeof ResizeObserver === 'function'
  ? new ResizeObserver((entries) => {
    for (const entry of entries) {
      const chart = entry.target.__chart;
      if (chart && !chart.isDisposed()) chart.resize();
    }
  })
  : null;
function observeSize(dom, chart) {
  dom.__chart = chart;
  if (resizeObserver) resizeObserver.observe(dom);
}

function baseTextStyle() {
  return { color: COLORS.text, fontSize: px(14), fontFamily: 'inherit' };
}
function tooltipBase() {
  return {
    backgroundColor: 'rgba(6, 16, 31, 0.92)',
    borderColor: COLORS.accent,
    textStyle: { color: COLORS.text, fontSize: px(14) },
    confine: true,
  };
}

function setRangeNotes() {
  for (const node of document.querySelectorAll('[data-range-note]')) {
    node.textContent = RANGE_LABELS[state.range] || `近${state.range}天`;
  }
}

// ---------- KPI ----------

function tile(key) {
  return document.querySelector(`[data-kpi="${key}"]`);
}

/**
 * @param {string} key
 * @param {{value?: string, hint?: string, state: string, alert?: boolean, alertText?: string}} s
 */
function setTile(key, s) {
  const node = tile(key);
  node.querySelector('[data-testid="kpi-value"]').textContent = s.value ?? '—';
  node.querySelector('.kpi__hint').textContent = s.hint ?? '';
  node.dataset.state = s.state;
  node.dataset.alert = s.alert ? 'true' : 'false';
  let badge = node.querySelector('.kpi__badge');
  if (s.alert) {
    if (!badge) {
      badge = el('span', { class: 'kpi__badge', dataset: { testid: 'kpi-alert' } }, '告警');
      node.append(badge);
    }
    badge.title = s.alertText || '';
  } else if (badge) {
    badge.remove();
  }
}

function tileError(key, err) {
  setTile(key, { value: '—', hint: `加载失败：${errorText(err)}`, state: 'error' });
}

/** 单行（无分组）合计查询的那一行，或 null。 */
function totalRow(query) {
  const rows = rowsOf(query);
  return rows.length ? rows[0] : null;
}

async function loadKpis() {
  const gen = nextGen('kpi');
  const today = lastDays(1);
  const week = lastDays(7);
  const month = lastDays(30);
  const prevMonth = lastDays(30, 30);
  const base = { metric: 'service_use', granularity: 'total' };

  const [todayQ, outcomeQ, weekQ, monthQ, prevQ] = await Promise.all([
    runQuery('今日服务（合计）', { ...base, from: iso(today.from), to: iso(today.to) }),
    runQuery('今日服务（按结果）', { ...base, from: iso(today.from), to: iso(today.to), group_by: 'outcome' }),
    runQuery('近7天服务（合计）', { ...base, from: iso(week.from), to: iso(week.to) }),
    runQuery('近30天服务（合计）', { ...base, from: iso(month.from), to: iso(month.to) }),
    runQuery('前30天服务（合计，环比基期）', { ...base, from: iso(prevMonth.from), to: iso(prevMonth.to) }),
  ]);
  if (!isCurrent('kpi', gen)) return;

  state.drill.uses = [todayQ];
  state.drill.dau = [todayQ];
  state.drill.latency = [todayQ];
  state.drill.success = [outcomeQ, todayQ];
  state.drill.wau = [weekQ];
  state.drill.mau = [monthQ, prevQ];

  const todayRow = totalRow(todayQ);

  // 今日服务人次 / 日活 / 响应时间
  if (todayQ.error) {
    for (const key of ['uses', 'dau', 'latency']) tileError(key, todayQ.error);
  } else if (!todayRow) {
    for (const key of ['uses', 'dau', 'latency']) setTile(key, { value: '—', hint: '暂无数据', state: 'empty' });
  } else if (todayRow.suppressed) {
    for (const key of ['uses', 'dau', 'latency']) setTile(key, { value: SUPPRESSED_TEXT, hint: '人数过少，按规定不显示', state: 'suppressed' });
  } else {
    setTile('uses', { value: fmtInt(todayRow.count), hint: '今日 0 时起（北京时间）', state: 'ready' });
    setTile('dau', {
      value: todayRow.people === null ? '—' : fmtInt(todayRow.people),
      hint: todayRow.people === null ? '暂无人数数据' : '今日去重服务人数',
      state: todayRow.people === null ? 'empty' : 'ready',
    });
    const p50 = todayRow.latency_p50_ms;
    const p99 = todayRow.latency_p99_ms;
    if (p50 === null && p99 === null) {
      setTile('latency', { value: '—', hint: '暂无响应时间数据', state: 'empty' });
    } else {
      const alert = p99 !== null && p99 > ALERTS.p99MaxMs;
      setTile('latency', {
        value: `${fmtInt(p50)} / ${fmtInt(p99)} ms`,
        hint: todayRow.latency_avg_ms !== null ? `平均 ${fmtMs(todayRow.latency_avg_ms)}` : '',
        state: 'ready',
        alert,
        alertText: `p99 超过 ${ALERTS.p99MaxMs} ms`,
      });
    }
  }

  // 成功率 = 今日 outcome=ok 的次数 / 今日总次数
  const outcomeRows = rowsOf(outcomeQ);
  if (outcomeQ.error) {
    tileError('success', outcomeQ.error);
  } else if (!outcomeRows.length) {
    setTile('success', { value: '—', hint: '暂无数据', state: 'empty' });
  } else {
    const okRow = outcomeRows.find((r) => r.group && r.group.outcome === 'ok');
    let total = null;
    if (todayRow && !todayRow.suppressed && todayRow.count !== null) total = todayRow.count;
    else if (!outcomeRows.some((r) => r.suppressed)) total = outcomeRows.reduce((s, r) => s + (r.count || 0), 0);
    if ((okRow && okRow.suppressed) || total === null) {
      setTile('success', { value: SUPPRESSED_TEXT, hint: '人数过少，按规定不显示', state: 'suppressed' });
    } else if (total === 0) {
      setTile('success', { value: '—', hint: '暂无数据', state: 'empty' });
    } else {
      const ok = okRow ? okRow.count : 0;
      const rate = ok / total;
      setTile('success', {
        value: fmtPct(rate, 2),
        hint: `成功 ${fmtInt(ok)} / 共 ${fmtInt(total)}`,
        state: 'ready',
        alert: rate < ALERTS.successRateMin,
        alertText: `成功率低于 ${fmtPct(ALERTS.successRateMin, 0)}`,
      });
    }
  }

  // 周活
  peopleTile('wau', weekQ, '近7天去重服务人数');

  // 月活 + 环比
  const mau = peopleTile('mau', monthQ, null);
  if (mau !== null) {
    const prevRow = totalRow(prevQ);
    const prev = prevRow && !prevRow.suppressed ? prevRow.people : null;
    if (prevQ.error) {
      setTile('mau', { value: fmtInt(mau), hint: `环比：基期查询失败（${errorText(prevQ.error)}）`, state: 'ready' });
    } else if (prev === null || prev === undefined || prev === 0) {
      setTile('mau', { value: fmtInt(mau), hint: '环比 —（上一周期无数据）', state: 'ready' });
    } else {
      const change = (mau - prev) / prev;
      const arrow = change > 0 ? '↑' : change < 0 ? '↓' : '→';
      const node = tile('mau');
      setTile('mau', {
        value: fmtInt(mau),
        hint: `环比 ${arrow} ${fmtPct(Math.abs(change))}（上期 ${fmtInt(prev)}）`,
        state: 'ready',
        alert: change < ALERTS.mauChangeMin,
        alertText: '月活环比下降',
      });
      node.dataset.trend = change > 0 ? 'up' : change < 0 ? 'down' : 'flat';
    }
  }

  const anyError = [todayQ, outcomeQ, weekQ, monthQ, prevQ].some((q) => q.error);
  setPanelState('kpi', anyError ? 'error' : 'ready');
}

/** 人数类 KPI；返回显示的人数（或 null）。 */
function peopleTile(key, query, hint) {
  const row = totalRow(query);
  if (query.error) {
    tileError(key, query.error);
    return null;
  }
  if (!row) {
    setTile(key, { value: '—', hint: '暂无数据', state: 'empty' });
    return null;
  }
  if (row.suppressed) {
    setTile(key, { value: SUPPRESSED_TEXT, hint: '人数过少，按规定不显示', state: 'suppressed' });
    return null;
  }
  if (row.people === null || row.people === undefined) {
    setTile(key, { value: '—', hint: '暂无人数数据', state: 'empty' });
    return null;
  }
  setTile(key, { value: fmtInt(row.people), hint: hint || '', state: 'ready' });
  return row.people;
}

// ---------- 趋势 ----------

async function loadTrend() {
  const gen = nextGen('trend');
  const range = lastDays(state.range);
  const q = await runQuery(`服务趋势（${RANGE_LABELS[state.range]}，按日）`, {
    metric: 'service_use', granularity: 'day', from: iso(range.from), to: iso(range.to),
  });
  if (!isCurrent('trend', gen)) return;
  state.drill.trend = [q];
  if (q.error) return showError('trend', q.error);
  const rows = rowsOf(q);
  if (!rows.length) return showEmpty('trend');

  const byDay = new Map(rows.map((r) => [fmtDay(Date.parse(r.bucket)), r]));
  const days = [];
  const uses = [];
  const people = [];
  for (let t = range.from; t < range.to; t += DAY_MS) {
    const day = fmtDay(t);
    const row = byDay.get(day);
    days.push(day);
    // 缺失或 <5 人的日子留空（断线），不补 0
    uses.push(row && !row.suppressed ? row.count : null);
    people.push(row && !row.suppressed ? row.people : null);
  }
  const suppressedDays = rows.filter((r) => r.suppressed).length;

  const option = {
    textStyle: baseTextStyle(),
    color: [COLORS.accent, COLORS.gold],
    grid: { left: px(12), right: px(16), top: px(40), bottom: px(8), containLabel: true },
    legend: { top: 0, right: 0, textStyle: { color: COLORS.text, fontSize: px(16) }, data: ['服务人次', '服务人数'] },
    tooltip: {
      ...tooltipBase(),
      trigger: 'axis',
      formatter(params) {
        const list = Array.isArray(params) ? params : [params];
        const lines = [escapeHtml(list[0] ? list[0].axisValue : '')];
        for (const p of list) {
          const v = p.value === null || p.value === undefined || p.value === '-' ? SUPPRESSED_TEXT + ' / 无数据' : fmtInt(p.value);
          lines.push(`${p.marker}${escapeHtml(p.seriesName)}：${escapeHtml(v)}`);
        }
        return lines.join('<br>');
      },
    },
    xAxis: {
      type: 'category', data: days, boundaryGap: false,
      axisLabel: { color: COLORS.muted, fontSize: px(15), formatter: (v) => v.slice(5) },
      axisLine: { lineStyle: { color: COLORS.grid } },
    },
    yAxis: {
      type: 'value',
      axisLabel: { color: COLORS.muted, fontSize: px(15) },
      splitLine: { lineStyle: { color: COLORS.grid } },
    },
    series: [
      { name: '服务人次', type: 'line', data: uses, smooth: true, showSymbol: days.length <= 31, connectNulls: false, areaStyle: { opacity: 0.12 } },
      { name: '服务人数', type: 'line', data: people, smooth: true, showSymbol: days.length <= 31, connectNulls: false },
    ],
  };
  if (suppressedDays) option.title = { text: `${suppressedDays} 天 ${SUPPRESSED_TEXT}`, left: 0, top: 0, textStyle: { color: COLORS.muted, fontSize: px(14), fontWeight: 'normal' } };
  if (!drawChart('trend', option)) {
    fallbackTable('trend', ['日期', '服务人次', '服务人数'], days.map((d, i) => [d, uses[i] === null ? '—' : fmtInt(uses[i]), people[i] === null ? '—' : fmtInt(people[i])]).reverse());
  }
}

/** ECharts 不可用时的简单表格。 */
function fallbackTable(name, head, rows) {
  disposeChart(name);
  setPanelState(name, 'ready');
  replace(
    body(name),
    el('div', { class: 'cockpit-fallback' },
      el('table', { class: 'cockpit-table' },
        el('thead', {}, el('tr', {}, head.map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c))))))),
  );
}

// ---------- 地图 ----------

function loadGeo() {
  if (state.geo) return state.geo;
  state.geo = (async () => {
    if (!hasEcharts()) return { ok: false, error: 'ECharts 未加载' };
    try {
      const res = await fetch(GEO_URL, { credentials: 'same-origin' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const geo = await res.json();
      if (!geo || geo.type !== 'FeatureCollection' || !Array.isArray(geo.features) || !geo.features.length) {
        throw new Error('不是有效的 GeoJSON');
      }
      for (const f of geo.features) {
        const p = f.properties || {};
        const code = String(p.adcode || f.id || '');
        if (code && p.name) districtNames.set(code, p.name);
      }
      window.echarts.registerMap(MAP_NAME, geo);
      return { ok: true };
    } catch (err) {
      console.warn('驾驶舱地图加载失败，改用区县网格：', err);
      return { ok: false, error: err && err.message };
    }
  })();
  return state.geo;
}

async function loadMap() {
  const gen = nextGen('map');
  const range = lastDays(state.range);
  const [q, geo] = await Promise.all([
    runQuery(`区（市）县服务人次（${RANGE_LABELS[state.range]}）`, {
      metric: 'service_use', granularity: 'total', group_by: 'district',
      from: iso(range.from), to: iso(range.to),
    }),
    loadGeo(),
  ]);
  if (!isCurrent('map', gen)) return;
  state.drill.map = [q];
  if (q.error) return showError('map', q.error);
  const rows = rowsOf(q);
  if (!rows.length) return showEmpty('map');

  // 每个区县一行（服务端按区县合并各部门，人数去重后再判断是否少于 5 人）
  const byDistrict = new Map();
  for (const row of rows) {
    const code = row.group ? row.group.district : null;
    if (!code) continue;
    const d = byDistrict.get(code) || { count: 0, shown: 0, suppressed: 0 };
    if (row.suppressed || row.count === null) d.suppressed += 1;
    else { d.count += row.count; d.shown += 1; }
    byDistrict.set(code, d);
  }
  const cells = DISTRICTS.map(([code]) => {
    const d = byDistrict.get(code);
    const name = districtName(code);
    if (!d) return { code, name, value: null, kind: 'none' };
    if (!d.shown) return { code, name, value: null, kind: 'suppressed' };
    return { code, name, value: d.count, kind: d.suppressed ? 'partial' : 'ok' };
  });
  const unknown = [...byDistrict.keys()].filter((code) => !districtNames.has(code) || !DISTRICTS.some(([c]) => c === code));

  if (geo.ok && drawMap(cells)) {
    if (unknown.length) panel('map').dataset.unknownDistricts = unknown.join(',');
    return;
  }
  drawDistrictGrid(cells, geo.error);
}

function cellText(cell) {
  if (cell.kind === 'suppressed') return SUPPRESSED_TEXT;
  if (cell.kind === 'none') return '暂无数据';
  return fmtInt(cell.value) + (cell.kind === 'partial' ? '+' : '');
}

function drawMap(cells) {
  const values = cells.filter((c) => c.value !== null).map((c) => c.value);
  const max = values.length ? Math.max(...values) : 1;
  const data = cells.map((c) => {
    const item = { name: c.name, value: c.value === null ? NaN : c.value, adcode: c.code, kind: c.kind };
    if (c.kind === 'suppressed' || c.kind === 'none') {
      item.itemStyle = { areaColor: COLORS.suppressed };
    }
    return item;
  });
  const option = {
    textStyle: baseTextStyle(),
    tooltip: {
      ...tooltipBase(),
      trigger: 'item',
      formatter(p) {
        const d = p.data || {};
        const cell = cells.find((c) => c.code === d.adcode) || { kind: 'none' };
        let text = cellText(cell);
        if (cell.kind === 'partial') text += '（部分部门 <5人 不显示，未计入）';
        return `${escapeHtml(p.name)}<br>服务人次：${escapeHtml(text)}`;
      },
    },
    visualMap: {
      type: 'continuous', min: 0, max: Math.max(max, 1), left: px(8), bottom: px(8),
      text: ['多', '少'], calculable: false, itemHeight: px(120),
      textStyle: { color: COLORS.muted, fontSize: px(13) },
      inRange: { color: ['#123a63', '#1d6fa8', '#3cc8ff', '#f5c451'] },
      seriesIndex: 0,
    },
    series: [{
      type: 'map',
      map: MAP_NAME,
      roam: false,
      layoutCenter: ['50%', '52%'],
      layoutSize: '98%',
      selectedMode: false,
      labelLayout: { hideOverlap: true },
      nameProperty: 'name',
      itemStyle: { areaColor: COLORS.suppressed, borderColor: 'rgba(60, 200, 255, 0.55)', borderWidth: 1 },
      emphasis: { itemStyle: { areaColor: COLORS.gold }, label: { color: '#06101f' } },
      label: {
        show: true,
        color: COLORS.text,
        fontSize: px(14),
        textBorderColor: 'rgba(6, 16, 31, 0.85)',
        textBorderWidth: 2,
        formatter(p) {
          const d = p.data || {};
          const cell = cells.find((c) => c.code === d.adcode);
          if (!cell) return p.name;
          return cell.kind === 'suppressed' ? `${p.name}\n${SUPPRESSED_TEXT}` : `${p.name}\n${cellText(cell)}`;
        },
      },
      data,
    }],
  };
  try {
    return drawChart('map', option);
  } catch (err) {
    console.warn('地图绘制失败，改用区县网格：', err);
    disposeChart('map');
    return false;
  }
}

/** 地图不可用时：4×5 的 20 个区县网格，键为 adcode。 */
function drawDistrictGrid(cells, reason) {
  disposeChart('map');
  setPanelState('map', 'ready');
  const max = Math.max(1, ...cells.filter((c) => c.value !== null).map((c) => c.value));
  replace(
    body('map'),
    el('div', { class: 'district-wrap' },
      el('ol', { class: 'district-grid', dataset: { testid: 'district-grid' }, 'aria-label': '各区（市）县服务人次' },
        cells.map((c) => el('li', {
          class: `district-cell district-cell--${c.kind}`,
          dataset: { adcode: c.code, testid: 'district-cell' },
          style: c.value !== null ? `--level:${(c.value / max).toFixed(3)}` : null,
        },
        el('span', { class: 'district-cell__name' }, c.name),
        el('span', { class: 'district-cell__value' }, cellText(c))))),
      el('p', { class: 'district-note' }, `地图不可用${reason ? `（${reason}）` : ''}，以区县网格显示。`)),
  );
}

// ---------- 排行 ----------

async function loadRanking() {
  const gen = nextGen('ranking');
  const range = lastDays(state.range);
  const q = await runQuery(`事项排行（${RANGE_LABELS[state.range]}）`, {
    metric: 'service_use', granularity: 'total', group_by: 'service',
    from: iso(range.from), to: iso(range.to),
  });
  if (!isCurrent('ranking', gen)) return;
  state.drill.ranking = [q];
  if (q.error) return showError('ranking', q.error);
  const rows = rowsOf(q);
  if (!rows.length) return showEmpty('ranking');

  const items = rows
    .map((r) => ({ code: r.group.service, name: serviceName(r.group.service), value: r.suppressed ? null : r.count }))
    .sort((a, b) => (b.value ?? -1) - (a.value ?? -1))
    .slice(0, 12);
  const names = items.map((i) => i.name);
  const option = {
    textStyle: baseTextStyle(),
    grid: { left: px(8), right: px(110), top: px(4), bottom: px(4), containLabel: true },
    tooltip: {
      ...tooltipBase(),
      trigger: 'item',
      formatter: (p) => `${escapeHtml(p.name)}：${escapeHtml(items[p.dataIndex].value === null ? SUPPRESSED_TEXT : fmtInt(items[p.dataIndex].value))}`,
    },
    xAxis: { type: 'value', show: false },
    yAxis: {
      type: 'category', data: names, inverse: true,
      // Every service named: ECharts would otherwise drop every other label when rows are tight.
      axisLabel: { color: COLORS.text, fontSize: px(14), interval: 0 },
      axisLine: { show: false }, axisTick: { show: false },
    },
    series: [{
      type: 'bar',
      barMaxWidth: px(18),
      data: items.map((i) => (i.value === null ? { value: 0, suppressed: true } : i.value)),
      itemStyle: {
        borderRadius: [0, 4, 4, 0],
        color: hasEcharts() ? new window.echarts.graphic.LinearGradient(0, 0, 1, 0, [
          { offset: 0, color: 'rgba(60, 200, 255, 0.35)' }, { offset: 1, color: COLORS.accent },
        ]) : COLORS.accent,
      },
      label: {
        show: true, position: 'right', color: COLORS.text, fontSize: px(16),
        formatter: (p) => (items[p.dataIndex].value === null ? SUPPRESSED_TEXT : fmtInt(items[p.dataIndex].value)),
      },
    }],
  };
  if (!drawChart('ranking', option)) {
    fallbackTable('ranking', ['事项', '服务人次'], items.map((i) => [i.name, i.value === null ? SUPPRESSED_TEXT : fmtInt(i.value)]));
  }
}

// ---------- 漏斗 / 结果构成 ----------

function canSeeBank() {
  if (state.scopeKnown) return state.scope === null;
  const me = state.me || {};
  return me.role === 'admin' || (me.department && me.department.code === 'data');
}

async function loadFunnel() {
  const gen = nextGen('funnel');
  const range = lastDays(state.range);
  const span = { from: iso(range.from), to: iso(range.to), granularity: 'total' };
  const label = RANGE_LABELS[state.range];
  const titleNode = panel('funnel').querySelector('[data-funnel-title]');
  const caption = panel('funnel').querySelector('[data-funnel-caption]');

  if (canSeeBank()) {
    const qs = await Promise.all([
      runQuery(`闪电贷·申请（${label}）`, { ...span, metric: 'loan_applied' }),
      runQuery(`闪电贷·审批通过（${label}）`, { ...span, metric: 'loan_decided', outcome: 'approved' }),
      runQuery(`闪电贷·签约（${label}）`, { ...span, metric: 'loan_signed' }),
      runQuery(`闪电贷·提款（${label}）`, { ...span, metric: 'loan_drawn' }),
    ]);
    if (!isCurrent('funnel', gen)) return;
    titleNode.textContent = '闪电贷转化漏斗';
    caption.hidden = true;
    panel('funnel').dataset.mode = 'loan';
    state.drill.funnel = qs;
    const failed = qs.find((q) => q.error);
    if (failed) return showError('funnel', failed.error);
    const stages = ['申请', '审批通过', '签约', '提款'].map((name, i) => {
      const row = totalRow(qs[i]);
      if (!row) return { name, value: null, kind: 'none' };
      if (row.suppressed) return { name, value: null, kind: 'suppressed' };
      return { name, value: row.count, kind: 'ok' };
    });
    if (stages.every((s) => s.kind === 'none')) return showEmpty('funnel');
    drawStages(stages, true);
    return;
  }

  const q = await runQuery(`本部门事项办理结果（${label}）`, {
    ...span, metric: 'service_use', group_by: 'outcome',
  });
  if (!isCurrent('funnel', gen)) return;
  titleNode.textContent = '办理结果构成';
  caption.textContent = '闪电贷漏斗属银行数据，仅全市视图可见；此处显示本部门事项的办理结果（成功与各类失败）。';
  caption.hidden = false;
  panel('funnel').dataset.mode = 'outcome';
  state.drill.funnel = [q];
  if (q.error) return showError('funnel', q.error);
  const rows = rowsOf(q);
  if (!rows.length) return showEmpty('funnel');
  const stages = rows
    .map((r) => ({
      name: outcomeName(r.group.outcome),
      code: r.group.outcome,
      value: r.suppressed ? null : r.count,
      kind: r.suppressed ? 'suppressed' : 'ok',
    }))
    .sort((a, b) => (a.code === 'ok' ? -1 : b.code === 'ok' ? 1 : (b.value ?? -1) - (a.value ?? -1)));
  drawStages(stages, false);
}

/** 横向条形：漏斗（带相对首步的转化率）或结果构成（带占比）。 */
function drawStages(stages, funnel) {
  const first = stages[0] && stages[0].value;
  const total = stages.reduce((s, x) => s + (x.value || 0), 0);
  const labelOf = (s) => {
    if (s.kind === 'suppressed') return SUPPRESSED_TEXT;
    if (s.kind === 'none') return '暂无数据';
    if (funnel) return first ? `${fmtInt(s.value)}（${fmtPct(s.value / first)}）` : fmtInt(s.value);
    return total ? `${fmtInt(s.value)}（${fmtPct(s.value / total)}）` : fmtInt(s.value);
  };
  const colorOf = (s) => {
    if (funnel) return COLORS.accent;
    return s.code === 'ok' ? COLORS.ok : COLORS.danger;
  };
  const option = {
    textStyle: baseTextStyle(),
    grid: { left: px(8), right: px(170), top: px(4), bottom: px(4), containLabel: true },
    tooltip: { ...tooltipBase(), trigger: 'item', formatter: (p) => `${escapeHtml(p.name)}：${escapeHtml(labelOf(stages[p.dataIndex]))}` },
    xAxis: { type: 'value', show: false },
    yAxis: {
      type: 'category', inverse: true, data: stages.map((s) => s.name),
      axisLabel: { color: COLORS.text, fontSize: px(17) }, axisLine: { show: false }, axisTick: { show: false },
    },
    series: [{
      type: 'bar',
      barMaxWidth: px(28),
      data: stages.map((s, i) => ({
        value: s.value === null ? 0 : s.value,
        itemStyle: { color: colorOf(s), opacity: funnel ? 1 - i * 0.15 : 1, borderRadius: [0, 4, 4, 0] },
      })),
      label: { show: true, position: 'right', color: COLORS.text, fontSize: px(16), formatter: (p) => labelOf(stages[p.dataIndex]) },
    }],
  };
  if (!drawChart('funnel', option)) {
    fallbackTable('funnel', [funnel ? '环节' : '结果', '次数'], stages.map((s) => [s.name, labelOf(s)]));
  }
}

// ---------- 实时动态 ----------

let liveSource = null;
let liveRetry = null;

function startLive() {
  const status = document.querySelector('[data-ticker-status]');
  if (typeof EventSource !== 'function') {
    status.textContent = '浏览器不支持实时推送';
    return;
  }
  if (liveSource) liveSource.close();
  const source = new EventSource(LIVE, { withCredentials: true });
  liveSource = source;
  source.addEventListener('open', () => {
    status.textContent = '实时';
    status.dataset.state = 'live';
    panel('ticker').dataset.live = 'open';
  });
  source.addEventListener('fact', (ev) => {
    let fact;
    try {
      fact = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (!fact || typeof fact !== 'object') return;
    pushFact(fact);
  });
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      // 服务端拒绝（非 event-stream 应答），浏览器不会自动重连：30 秒后自己再试
      status.textContent = '实时连接失败，30 秒后重试';
      status.dataset.state = 'error';
      panel('ticker').dataset.live = 'error';
      clearTimeout(liveRetry);
      liveRetry = setTimeout(startLive, 30_000);
    } else {
      status.textContent = '实时连接中断，正在重连…';
      status.dataset.state = 'reconnecting';
      panel('ticker').dataset.live = 'reconnecting';
    }
  });
}

function pushFact(fact) {
  state.ticker.unshift(fact);
  if (state.ticker.length > TICKER_MAX) state.ticker.length = TICKER_MAX;
  const list = document.querySelector('[data-testid="ticker"]');
  list.prepend(tickerItem(fact));
  while (list.children.length > TICKER_MAX) list.lastElementChild.remove();
  document.querySelector('[data-ticker-empty]').hidden = true;
  setPanelState('ticker', 'ready');
}

function tickerItem(fact) {
  const at = Date.parse(fact.at);
  const step = METRIC_STEPS[fact.metric];
  const service = serviceName(fact.service) + (step ? `·${step}` : '');
  const outcome = outcomeName(fact.outcome);
  const bad = fact.outcome && !['ok', 'approved', 'answer', 'clarify'].includes(fact.outcome) && !/^[1-5]$/.test(fact.outcome);
  return el('li', { class: `ticker-item${bad ? ' ticker-item--bad' : ''}`, dataset: { testid: 'ticker-item', metric: fact.metric || '', outcome: fact.outcome || '' } },
    el('time', { class: 'ticker-item__time', datetime: fact.at || '' }, Number.isNaN(at) ? '—' : timeFmt.format(new Date(at))),
    el('span', { class: 'ticker-item__dept' }, departmentName(fact.department)),
    el('span', { class: 'ticker-item__service' }, service),
    el('span', { class: 'ticker-item__district' }, districtName(fact.district)),
    el('span', { class: 'ticker-item__outcome' }, outcome),
    fact.latency_ms !== null && fact.latency_ms !== undefined ? el('span', { class: 'ticker-item__latency' }, fmtMs(fact.latency_ms)) : null);
}

// ---------- 明细（drill-down） ----------

let drillReturnFocus = null;

function openDrill(key) {
  const queries = state.drill[key];
  closeDrill();
  drillReturnFocus = document.activeElement;
  const closeBtn = el('button', { type: 'button', class: 'drilldown__close', 'aria-label': '关闭明细（Esc）', dataset: { testid: 'drilldown-close' } }, '关闭 ✕');
  closeBtn.addEventListener('click', closeDrill);
  const content = (!queries || !queries.length)
    ? [el('div', { class: 'empty' }, '数据加载中，请稍后再试')]
    : queries.map(drillSection);
  const overlay = el('div', { class: 'drilldown-backdrop', dataset: { drillBackdrop: '' } },
    el('section', { class: 'drilldown', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'drill-title', dataset: { testid: 'drilldown', key } },
      el('header', { class: 'drilldown__head' },
        el('h2', { id: 'drill-title', class: 'drilldown__title' }, '数据明细'),
        closeBtn),
      el('div', { class: 'drilldown__body' }, content)));
  overlay.addEventListener('click', (ev) => {
    if (ev.target === overlay) closeDrill();
  });
  document.body.append(overlay);
  closeBtn.focus();
}

function closeDrill() {
  const open = document.querySelector('[data-drill-backdrop]');
  if (!open) return;
  open.remove();
  if (drillReturnFocus && typeof drillReturnFocus.focus === 'function' && drillReturnFocus.isConnected) drillReturnFocus.focus();
  drillReturnFocus = null;
}

function drillSection(query) {
  const answer = query.answer;
  const dims = (query.params.group_by || '').split(',').filter(Boolean);
  const filters = Object.entries(query.params)
    .filter(([k]) => DIM_LABELS[k])
    .map(([k, v]) => `${DIM_LABELS[k]}=${dimValue(k, v)}`);
  const meta = [
    `指标 ${query.params.metric}`,
    `粒度 ${query.params.granularity}`,
    `${fmtDay(Date.parse(query.params.from))} 至 ${fmtDay(Date.parse(query.params.to) - 1)}（北京时间）`,
    ...filters,
  ];
  if (answer) {
    meta.push(answer.department_scope ? `限定部门 ${departmentName(answer.department_scope)}` : '全部部门');
    if (answer.suppressed) meta.push(`${answer.suppressed} 行 ${SUPPRESSED_TEXT}`);
  }
  let table;
  if (query.error) {
    table = el('div', { class: 'cockpit-error', role: 'alert' }, `加载失败：${errorText(query.error)}`);
  } else if (!rowsOf(query).length) {
    table = el('div', { class: 'empty' }, '暂无数据');
  } else {
    const head = ['时间', ...dims.map((d) => DIM_LABELS[d] || d)];
    const numHead = ['次数', '人数', '平均响应', 'p50', 'p99'];
    table = el('div', { class: 'drilldown__scroll' },
      el('table', { class: 'cockpit-table' },
        el('thead', {}, el('tr', {},
          head.map((h) => el('th', { scope: 'col' }, h)),
          numHead.map((h) => el('th', { scope: 'col', class: 'num' }, h)))),
        el('tbody', {}, rowsOf(query).map((row) => el('tr', { dataset: { suppressed: row.suppressed ? 'true' : 'false' } },
          el('td', {}, fmtBucket(row.bucket, query.params.granularity)),
          dims.map((d) => el('td', { title: row.group ? row.group[d] : '' }, row.group ? dimValue(d, row.group[d]) : '—')),
          row.suppressed
            ? el('td', { colspan: '5', class: 'is-suppressed' }, SUPPRESSED_TEXT)
            : [
              el('td', { class: 'num' }, fmtInt(row.count)),
              el('td', { class: 'num' }, fmtInt(row.people)),
              el('td', { class: 'num' }, row.latency_avg_ms === null ? '—' : fmtMs(row.latency_avg_ms)),
              el('td', { class: 'num' }, row.latency_p50_ms === null ? '—' : fmtMs(row.latency_p50_ms)),
              el('td', { class: 'num' }, row.latency_p99_ms === null ? '—' : fmtMs(row.latency_p99_ms)),
            ])))));
  }
  return el('section', { class: 'drilldown__section' },
    el('div', { class: 'drilldown__section-head' },
      el('h3', {}, query.title),
      el('a', { class: 'drilldown__csv', href: query.csv, download: 'cockpit.csv', dataset: { testid: 'drilldown-csv' } }, '下载 CSV')),
    el('p', { class: 'drilldown__meta' }, meta.join(' · ')),
    table);
}

function wireDrilldowns() {
  for (const node of document.querySelectorAll('[data-kpi]')) {
    const key = node.dataset.kpi;
    node.addEventListener('click', () => openDrill(key));
    node.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        openDrill(key);
      }
    });
  }
  for (const button of document.querySelectorAll('[data-drill]')) {
    button.addEventListener('click', () => openDrill(button.dataset.drill));
  }
  for (const name of ['trend', 'map', 'funnel', 'ranking']) {
    body(name).addEventListener('click', () => openDrill(name));
    body(name).classList.add('is-clickable');
  }
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') closeDrill();
  });
}

// ---------- 区间、刷新 ----------

function wireRangePicker() {
  const picker = document.querySelector('[data-testid="range-picker"]');
  for (const button of picker.querySelectorAll('[data-range]')) {
    button.addEventListener('click', () => {
      const days = Number(button.dataset.range);
      if (days === state.range) return;
      state.range = days;
      for (const b of picker.querySelectorAll('[data-range]')) b.setAttribute('aria-pressed', String(b === button));
      picker.dataset.range = String(days);
      setRangeNotes();
      refreshRange();
    });
  }
  picker.dataset.range = String(state.range);
  picker.hidden = false;
}

function guard(promise, name) {
  return promise.catch((err) => {
    if (err && err.redirecting) return;
    console.error(err);
    if (name === 'kpi') {
      for (const key of ['uses', 'dau', 'wau', 'mau', 'success', 'latency']) tileError(key, err);
    } else {
      showError(name, err);
    }
  });
}

function refreshRange() {
  return Promise.all([
    guard(loadTrend(), 'trend'),
    guard(loadMap(), 'map'),
    guard(loadRanking(), 'ranking'),
    guard(loadFunnel(), 'funnel'),
  ]);
}

async function refreshAll() {
  // KPI 先行：它的应答告诉我们本人是否被限定在某个部门（决定漏斗显示哪种）
  const kpi = guard(loadKpis(), 'kpi');
  await Promise.all([
    kpi,
    guard(loadTrend(), 'trend'),
    guard(loadMap(), 'map'),
    guard(loadRanking(), 'ranking'),
    kpi.then(() => guard(loadFunnel(), 'funnel')),
  ]);
}

// ---------- 时钟与部门 ----------

function startClock() {
  const clock = document.querySelector('[data-testid="clock"]');
  const timeNode = clock.querySelector('[data-clock="time"]');
  const dateNode = clock.querySelector('[data-clock="date"]');

  const tick = () => {
    const now = new Date();
    timeNode.textContent = timeFmt.format(now);
    dateNode.textContent = dateFmt.format(now);
    clock.dataset.iso = now.toISOString();
    // 对齐到下一整秒，避免 setInterval 累积漂移导致偶尔跳秒
    setTimeout(tick, 1000 - (now.getTime() % 1000) + 5);
  };
  tick();
  clock.hidden = false;
}

function departmentLabel(me) {
  if (me.department && me.department.name) return me.department.name;
  return me.role === 'admin' ? '全市（系统管理员视图）' : '未归属部门';
}

let resizeTimer = null;
function onWindowResize() {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const chart of Object.values(state.charts)) {
      if (chart && !chart.isDisposed()) chart.resize();
    }
  }, 150);
}

boot((me) => {
  state.me = me;
  const dept = document.querySelector('[data-cockpit="dept"]');
  dept.querySelector('[data-testid="cockpit-department"]').textContent = departmentLabel(me);
  if (me.department && me.department.code) dept.dataset.department = me.department.code;
  dept.hidden = false;
  startClock();

  setRangeNotes();
  wireRangePicker();
  wireDrilldowns();
  window.addEventListener('resize', onWindowResize);

  // 数据异步加载：主体先显示（图表需要有尺寸的容器），各面板各自显示加载/空/错误
  loadGeo();
  refreshAll();
  setInterval(refreshAll, REFRESH_MS);
  startLive();
});
