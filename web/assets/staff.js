// 便民服务平台 · 机构工作台 · 本单位职工参保情况（ES module，由 institution.js 挂载）
//
// GET /api/v1/institution/staff?page=N&per_page=200：用人单位查看本单位职工的社保缴费情况，
// 单位由服务端按账号确定，姓名与身份证号已由社保局脱敏，这里原样展示。
// 按每页 200 人逐页取，直到取满 total（最多 10 页，即 2000 人），汇总按已取到的全部职工计算；
// 表格在页面内每页显示 PAGE_SIZE 人。医院、药店等非用人单位得到 403：本节保持隐藏。

import { api } from './api.js';
import { el, replace, problemBanner } from './dom.js';
import { dateZh } from './consent.js';

const FETCH_PER_PAGE = 200;
const FETCH_MAX_PAGES = 10;
const PAGE_SIZE = 20;

const STATUS = {
  contributing: ['badge badge--ok', '正常缴费'],
  suspended: ['badge badge--warn', '暂停缴费'],
  retired: ['badge badge--info', '已退休'],
  not_insured: ['badge badge--danger', '未参保'],
};
const STATUS_ORDER = ['contributing', 'suspended', 'retired', 'not_insured'];

/** '12345.60' → '12,345.60'（纯字符串处理，不经浮点）。 */
function yuan(text) {
  const [int, frac = '00'] = String(text).split('.');
  return `${int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${frac}`;
}

/** '2015-03' → '2015年03月'；空值为 “—”。 */
function monthZh(value) {
  if (!value) return '—';
  const [y, m] = String(value).split('-');
  return m ? `${y}年${m}月` : String(value);
}

async function fetchAll() {
  const first = await api(`/api/v1/institution/staff?page=1&per_page=${FETCH_PER_PAGE}`);
  const employees = [...first.employees];
  let page = 1;
  while (employees.length < first.total && page < FETCH_MAX_PAGES) {
    page += 1;
    const next = await api(`/api/v1/institution/staff?page=${page}&per_page=${FETCH_PER_PAGE}`);
    if (!next.employees.length) break;
    employees.push(...next.employees);
  }
  return { ...first, employees };
}

function summary(data) {
  const counts = {};
  for (const e of data.employees) counts[e.status] = (counts[e.status] || 0) + 1;
  const partial = data.employees.length < data.total;
  const stat = (label, value, testid, cls = '') =>
    el('div', { class: `staff-stat ${cls}`, dataset: testid ? { testid } : {} }, el('span', { class: 'staff-stat__label' }, label), el('strong', { class: 'staff-stat__value' }, String(value)));
  return el(
    'div',
    { class: 'staff-summary' },
    el(
      'div',
      { class: 'staff-stats' },
      stat('职工人数', data.total, 'staff-total'),
      STATUS_ORDER.filter((s) => counts[s]).map((s) => stat(STATUS[s][1], counts[s], null, `staff-stat--${s}`)),
      Object.keys(counts).filter((s) => !STATUS[s]).map((s) => stat(s, counts[s])),
    ),
    el('p', { class: 'small muted' },
      partial
        ? `职工较多，仅取得前 ${data.employees.length} 人，各状态人数按这 ${data.employees.length} 人统计。`
        : '各状态人数按本单位全部职工统计。',
      data.as_of ? `数据截至 ${dateZh(data.as_of)}，来自成都市社会保险事业管理局。` : '数据来自成都市社会保险事业管理局。'),
  );
}

function table(employees, page) {
  const rows = employees.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
  return el(
    'div',
    { class: 'table-wrap staff-table-wrap' },
    el(
      'table',
      { class: 'data-table staff-table', dataset: { testid: 'staff-table' } },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, '姓名'),
        el('th', { scope: 'col' }, '身份证号'),
        el('th', { scope: 'col' }, '参保状态'),
        el('th', { scope: 'col' }, '参保起始'),
        el('th', { scope: 'col' }, '最近缴费'),
        el('th', { scope: 'col', class: 'num' }, '近12个月缴费月数'),
        el('th', { scope: 'col', class: 'num' }, '缴费基数（元）'),
      )),
      el('tbody', {}, rows.map((e) => {
        const [cls, label] = STATUS[e.status] || ['badge', e.status];
        return el(
          'tr',
          { dataset: { testid: 'staff-row', status: e.status } },
          el('td', { class: 'staff-table__name' }, e.name_masked),
          el('td', { class: 'id-ref' }, e.resident_id_masked),
          el('td', {}, el('span', { class: cls }, label)),
          el('td', { class: 'num' }, monthZh(e.insured_since)),
          el('td', { class: 'num' }, monthZh(e.last_paid)),
          el('td', { class: 'num' }, `${e.months_paid_last_12} / 12`),
          el('td', { class: 'num' }, yuan(e.base)),
        );
      })),
    ),
  );
}

/** 在 <section data-section="staff"> 中挂载职工参保情况。非用人单位（403）时本节保持隐藏。 */
export async function mountStaff(section) {
  section.dataset.testid = 'staff-section';
  const body = el('div', { class: 'staff-body' });
  const head = el('div', { class: 'staff-head' }, el('h2', { class: 'staff-title', id: 'staff-title' }, '本单位职工参保情况'));
  section.setAttribute('aria-labelledby', 'staff-title');
  replace(section, head, body);

  async function load() {
    section.dataset.state = 'loading';
    replace(body, el('div', { class: 'loading', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), '正在向社保局查询…'));
    let data;
    try {
      data = await fetchAll();
    } catch (err) {
      if (err.redirecting) return;
      if (err.status === 403) {
        // 医院、药店等：不是用人单位，本节不显示
        section.dataset.state = 'forbidden';
        section.hidden = true;
        replace(body, el('p', { class: 'muted' }, '仅用人单位可查看。'));
        return;
      }
      section.dataset.state = 'error';
      section.hidden = false;
      replace(body, problemBanner(err, { onRetry: load }));
      return;
    }
    render(data);
  }

  function render(data) {
    let page = 1;
    const pages = Math.max(1, Math.ceil(data.employees.length / PAGE_SIZE));
    const list = el('div');
    const show = () => {
      const prev = el('button', { class: 'btn btn--s', type: 'button', disabled: page <= 1, dataset: { testid: 'staff-prev' } }, '上一页');
      const next = el('button', { class: 'btn btn--s', type: 'button', disabled: page >= pages, dataset: { testid: 'staff-next' } }, '下一页');
      prev.addEventListener('click', () => { page -= 1; show(); });
      next.addEventListener('click', () => { page += 1; show(); });
      replace(
        list,
        data.employees.length ? table(data.employees, page) : el('p', { class: 'muted' }, '本单位暂无参保职工记录。'),
        pages > 1
          ? el('div', { class: 'cluster cluster--between pager table-foot' }, prev, el('span', { class: 'small muted', dataset: { testid: 'staff-page' } }, `第 ${page}/${pages} 页 · 每页 ${PAGE_SIZE} 人 · 共 ${data.employees.length} 人`), next)
          : null,
      );
    };
    show();
    replace(
      body,
      el(
        'div',
        { class: 'card staff-card' },
        el(
          'dl',
          { class: 'staff-employer', dataset: { testid: 'staff-employer' } },
          el('div', {}, el('dt', {}, '单位名称'), el('dd', {}, data.employer_name)),
          el('div', {}, el('dt', {}, '统一社会信用代码'), el('dd', { class: 'mono' }, data.uscc)),
        ),
        summary(data),
        list,
        el('p', { class: 'small muted staff-note' }, '姓名、身份证号已由社保局脱敏，仅供本单位核对职工参保缴费情况。'),
      ),
    );
    section.dataset.state = 'ready';
    section.hidden = false;
  }

  await load();
}
