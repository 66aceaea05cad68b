// 便民服务平台 · 市民 H5 首页（ES module）
//
// 目前各项服务的后端尚未接入：磁贴统一标记 data-status="soon"，点按只提示“即将上线”，
// 不展示任何余额、笔数之类的数字。某项服务上线时，把对应磁贴改为
// data-status="live" data-href="/citizen/xxx/" 即可，无需改这里的逻辑。

import { boot } from './shell.js';
import { el, replace, toast } from './dom.js';

/** 成都时间的问候语（用户手机可能不在东八区，所以显式指定时区）。 */
function greetingWord(now = new Date()) {
  const hour = Number(
    new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Shanghai', hour: 'numeric', hourCycle: 'h23' }).format(now),
  );
  if (hour < 5) return '夜深了';
  if (hour < 11) return '上午好';
  if (hour < 13) return '中午好';
  if (hour < 18) return '下午好';
  return '晚上好';
}

function tileName(tile) {
  const name = tile.querySelector('.tile__name');
  return name ? name.textContent.trim() : '该服务';
}

function onTile(tile) {
  if (tile.dataset.status === 'live' && tile.dataset.href) {
    window.location.assign(tile.dataset.href);
    return;
  }
  toast(`“${tileName(tile)}”即将上线，敬请期待`);
}

function onTab(tab, root) {
  switch (tab.dataset.tab) {
    case 'home':
      window.scrollTo({ top: 0, behavior: 'smooth' });
      break;
    case 'services': {
      const heading = root.querySelector('#services');
      heading.scrollIntoView({ behavior: 'smooth', block: 'start' });
      heading.focus({ preventScroll: true });
      break;
    }
    default:
      toast(`“${tab.textContent.trim()}”即将上线，敬请期待`);
  }
}

boot((me, root) => {
  replace(root.querySelector('[data-testid="greeting"]'), `${greetingWord()}，${me.display_name || ''}`);

  const meta = root.querySelector('[data-citizen="meta"]');
  replace(
    meta,
    el('span', { class: 'greeting__pill' }, me.role_label || me.role),
    me.department && me.department.name ? el('span', { class: 'greeting__pill' }, me.department.name) : null,
  );

  root.querySelector('[data-testid="service-grid"]').addEventListener('click', (event) => {
    const tile = event.target.closest('[data-service]');
    if (tile) onTile(tile);
  });

  root.querySelector('[data-testid="tabbar"]').addEventListener('click', (event) => {
    const tab = event.target.closest('[data-tab]');
    if (tab) onTab(tab, root);
  });
});
