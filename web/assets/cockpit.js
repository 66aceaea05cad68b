// 便民服务平台 · 政府部门驾驶舱大屏（ES module）
//
// 目前只是外壳：标题、所属部门、实时时钟和各面板的框架。
// 面板数据等洞察接口（insight API）就绪后再接，现在一律显示“暂无数据”。

import { boot } from './shell.js';

// 大屏可能挂在任何时区的机器上，时钟固定按北京时间显示。
const TZ = 'Asia/Shanghai';
const timeFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TZ, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});
const dateFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TZ, year: 'numeric', month: 'long', day: 'numeric', weekday: 'long',
});

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

boot((me) => {
  const dept = document.querySelector('[data-cockpit="dept"]');
  dept.querySelector('[data-testid="cockpit-department"]').textContent = departmentLabel(me);
  if (me.department && me.department.code) dept.dataset.department = me.department.code;
  dept.hidden = false;
  startClock();
});
