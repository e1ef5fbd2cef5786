import { SUPERNODE_ROUTES } from '../protocol/routes.ts'
import { CHART_SCRIPT, CHART_STYLE } from './dashboard-chart.ts'

/**
 * The supernode dashboard served at `GET /`: plain HTML and a small script
 * that polls the status, the task list and each task's piece map (base64
 * bitsets) and bandwidth series once a second. The page itself holds no data: when the API answers
 * 401 (auth-header on) it asks for the token once, keeps it in sessionStorage
 * (gone with the tab) and sends it as a bearer token with every request.
 */
export const DASHBOARD_HTML = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dragonfly supernode</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
  .cards { display: flex; flex-wrap: wrap; gap: .75rem; }
  .card { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .6rem .9rem; min-width: 9rem; }
  .card b { display: block; font-size: 1.25rem; }
  .card span { color: #5b6475; font-size: .8rem; }
  table { border-collapse: collapse; background: #fff; width: 100%; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e6e9ee; font-variant-numeric: tabular-nums; white-space: nowrap; }
  td.url { max-width: 0; width: 100%; overflow: hidden; text-overflow: ellipsis; }
  .swarm > .muted { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .swarm { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .6rem .9rem; margin-bottom: 1rem; }
  .row { display: grid; grid-template-columns: 24rem 1fr 6rem; gap: .6rem; align-items: center; margin: 2px 0; }
  .row canvas { width: 100%; height: 12px; image-rendering: pixelated; background: #e6e9ee; }
  .who { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-family: ui-monospace, monospace; font-size: .8rem; }
  .isolated .who { color: #c0262d; }
  .muted { color: #5b6475; }
  #login { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .8rem 1rem; margin-bottom: 1rem; }
  .legend i { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 .8rem; vertical-align: -2px; }
${CHART_STYLE}</style>
</head>
<body>
<h1>dragonfly supernode <small class="muted" id="updated"></small></h1>
<form id="login" hidden><label>This supernode needs its token: <input id="token" type="password" autocomplete="off"></label> <button>Open</button> <span class="muted" id="login-why"></span></form>
<div class="cards" id="cards"></div>
<h2>Bandwidth</h2>
<div id="bandwidth"></div>
<h2>Tasks</h2>
<table><thead><tr><th>task</th><th>url</th><th>size</th><th>cached</th><th>peers</th><th>from source</th><th>from supernode</th><th>from peers</th><th>state</th></tr></thead><tbody id="tasks"></tbody></table>
<h2>Piece maps <span class="legend muted"><i style="background:#2f6fdb"></i>supernode<i style="background:#2e9d57"></i>peer<i style="background:#c0262d"></i>isolated peer<i style="background:#e6e9ee"></i>missing</span></h2>
<div id="swarms"></div>
<script>
(function () {
  var COLORS = { supernode: '#2f6fdb', peer: '#2e9d57', isolated: '#c0262d' };
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function bytes(n) {
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + ' ' + u[i];
  }
  function bits(b64, size) {
    var raw = atob(b64), out = new Uint8Array(size);
    for (var i = 0; i < size; i++) out[i] = (raw.charCodeAt(i >> 3) >> (i & 7)) & 1;
    return out;
  }
${CHART_SCRIPT}
  var TOKEN = 'dragonfly-token', unlocked = null;
  function headers() {
    var t = sessionStorage.getItem(TOKEN);
    return t ? { authorization: 'Bearer ' + t } : {};
  }
  // Resolves once the user gave a token; the data requests wait for it instead of polling 401s.
  function askToken(why) {
    var form = document.getElementById('login');
    document.getElementById('login-why').textContent = why;
    form.hidden = false;
    document.getElementById('token').focus();
    return unlocked || (unlocked = new Promise(function (done) {
      form.onsubmit = function (e) {
        e.preventDefault();
        sessionStorage.setItem(TOKEN, document.getElementById('token').value.trim());
        form.hidden = true;
        unlocked = null;
        done();
      };
    }));
  }
  function Locked(why) { this.message = why; }
  function get(path) {
    return fetch(path, { cache: 'no-store', headers: headers() }).then(function (r) {
      if (r.status === 401) throw new Locked(sessionStorage.getItem(TOKEN) ? 'that token was refused' : '');
      if (!r.ok) throw new Error(path + ': ' + r.status);
      return r.json();
    });
  }
  function card(value, label) {
    var c = el('div', { class: 'card' });
    c.append(el('b', {}, String(value)), el('span', {}, label));
    return c;
  }
  function drawRow(parent, label, title, have, count, color, cls) {
    var row = el('div', { class: 'row ' + (cls || ''), 'data-pieces': String(have.reduce(function (a, b) { return a + b; }, 0)) });
    var canvas = el('canvas', { width: String(Math.min(Math.max(count, 1), 1200)), height: '1' });
    var ctx = canvas.getContext('2d'), scale = canvas.width / Math.max(count, 1);
    ctx.fillStyle = color;
    for (var i = 0; i < count; i++) if (have[i]) ctx.fillRect(Math.floor(i * scale), 0, Math.max(1, Math.ceil(scale)), 1);
    row.append(el('span', { class: 'who', title: title }, label), canvas, el('span', { class: 'muted' }, row.dataset.pieces + ' / ' + count));
    parent.append(row);
  }
  function renderStatus(s) {
    var delivered = s.bytesDelivered.supernode + s.bytesDelivered.peers;
    var saved = delivered > 0 ? Math.max(0, 1 - s.bytesFromSource / delivered) : 0;
    document.getElementById('cards').replaceChildren(
      card(s.tasks.total, 'tasks (' + s.tasks.running + ' running)'),
      card(s.peers, 'peers (' + s.downloads + ' downloading)'),
      card(s.isolatedPeers, 'isolated peers'),
      card(bytes(s.bytesFromSource), 'from source'),
      card(bytes(delivered), 'delivered to peers'),
      card((saved * 100).toFixed(1) + ' %', 'source bandwidth saved'),
      card(bytes(s.bytesDelivered.peers), 'served peer to peer'),
      card(bytes(s.cache.bytes), 'cache')
    );
  }
  function renderTasks(tasks) {
    document.getElementById('tasks').replaceChildren.apply(document.getElementById('tasks'), tasks.map(function (t) {
      var tr = el('tr', { 'data-task': t.taskId });
      var state = t.error ? 'failed: ' + t.error.code : !t.complete ? 'fetching' : t.downloading ? t.downloading + ' downloading' : 'complete';
      [t.taskId.slice(0, 12), t.url, bytes(t.contentLength), t.piecesCached + ' / ' + t.pieceCount, t.peers, bytes(t.bytesFromSource), bytes(t.bytesFromSupernode), bytes(t.bytesFromPeers), state]
        .forEach(function (v, i) { tr.append(el('td', i === 1 ? { class: 'url', title: String(v) } : {}, String(v))); });
      return tr;
    }));
  }
  function renderSwarm(map, task, series) {
    var box = el('div', { class: 'swarm', 'data-swarm': map.taskId });
    box.append(el('div', { class: 'muted' }, map.taskId.slice(0, 12) + '  ' + task.url), drawChart(series, map.taskId));
    drawRow(box, 'supernode', 'supernode cache', bits(map.supernode, map.pieceCount), map.pieceCount, COLORS.supernode, 'supernode');
    map.peers.forEach(function (p) {
      var label = (p.hostname ? p.hostname + '  ' : '') + p.address + (p.location ? '  ' + p.location : '') + (p.isolated ? '  (isolated)' : '');
      drawRow(box, label, p.id, bits(p.have, map.pieceCount), map.pieceCount, p.isolated ? COLORS.isolated : COLORS.peer, p.isolated ? 'isolated peer' : 'peer');
    });
    return box;
  }
  function refresh() {
    return Promise.all([get(${JSON.stringify(SUPERNODE_ROUTES.status)}), get(${JSON.stringify(SUPERNODE_ROUTES.tasks)}), get(${JSON.stringify(SUPERNODE_ROUTES.bandwidth)})]).then(function (r) {
      renderStatus(r[0]);
      document.getElementById('bandwidth').replaceChildren(drawChart(r[2], 'total'));
      var tasks = r[1].tasks.slice(-12);
      renderTasks(tasks);
      var perTask = function (route) { return Promise.all(tasks.map(function (t) { return get(route.replace(':taskId', t.taskId)); })); };
      return Promise.all([perTask(${JSON.stringify(SUPERNODE_ROUTES.pieceMap)}), perTask(${JSON.stringify(SUPERNODE_ROUTES.taskBandwidth)})]).then(function (r) {
        var swarms = document.getElementById('swarms');
        swarms.replaceChildren.apply(swarms, r[0].map(function (m, i) { return renderSwarm(m, tasks[i], r[1][i]); }));
        document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      });
    }).catch(function (e) {
      if (e instanceof Locked) return askToken(e.message);
      document.getElementById('updated').textContent = String(e.message || e);
    });
  }
  function loop() { refresh().then(function () { setTimeout(loop, 1000); }); }
  loop();
})();
</script>
</body>
</html>
`
