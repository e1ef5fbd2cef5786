/**
 * The dashboard's bandwidth chart, as script text the page embeds: plain SVG
 * drawn from a BandwidthSeries (bandwidth.ts), one line per flow, no chart
 * library. Each line carries `data-series` (its flow) and `data-bytes` (the
 * bytes in the window), and the legend the current rate per flow, so a
 * browser test can read what is drawn.
 */
export const CHART_STYLE = /* css */ `
  .bw { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .5rem .8rem; }
  .bw svg { display: block; width: 100%; height: 7rem; background: linear-gradient(#eef0f4 1px, transparent 1px) 0 0 / 100% 25%; }
  .swarm .bw { border: 0; padding: .2rem 0 .4rem; }
  .swarm .bw svg { height: 3.5rem; }
  .bw-head { display: flex; flex-wrap: wrap; gap: .2rem 1rem; font-size: .8rem; color: #5b6475; margin-bottom: .2rem; }
  .bw-head i { display: inline-block; width: .8rem; height: 3px; margin-right: .3rem; vertical-align: middle; }
`

export const CHART_SCRIPT = /* js */ `
  var FLOWS = ['source', 'supernode', 'peers'];
  var FLOW_COLORS = { source: '#d9822b', supernode: '#2f6fdb', peers: '#2e9d57' };
  var FLOW_NAMES = { source: 'from source', supernode: 'supernode to peers', peers: 'peer to peer' };
  // Peers report every ~2 s: a trailing average over a few steps draws a rate, not a comb.
  var SMOOTH = 4;
  function svgEl(tag, attrs) {
    var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function rates(values, stepMs) {
    var out = [], sum = 0;
    for (var i = 0; i < values.length; i++) {
      sum += values[i];
      if (i >= SMOOTH) sum -= values[i - SMOOTH];
      out.push(sum / Math.min(i + 1, SMOOTH) / (stepMs / 1000));
    }
    return out;
  }
  function drawChart(s, name) {
    var W = 600, H = 100, peak = 0, r = {};
    FLOWS.forEach(function (f) {
      r[f] = rates(s[f], s.stepMs);
      r[f].forEach(function (v) { peak = Math.max(peak, v); });
    });
    var box = el('div', { class: 'bw', 'data-bandwidth': name });
    var head = el('div', { class: 'bw-head' });
    FLOWS.forEach(function (f) {
      var item = el('span', { 'data-rate': f });
      var key = el('i');
      key.style.background = FLOW_COLORS[f];
      item.append(key, FLOW_NAMES[f] + ' ' + bytes(r[f][r[f].length - 1] || 0) + '/s');
      head.append(item);
    });
    var minutes = Math.round((s.source.length * s.stepMs) / 60000);
    head.append(el('span', { class: 'peak' }, 'peak ' + bytes(peak) + '/s, last ' + minutes + ' min'));
    var svg = svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'bytes per second by flow' });
    FLOWS.forEach(function (f) {
      var n = r[f].length, d = '';
      r[f].forEach(function (v, i) {
        var x = n > 1 ? (i / (n - 1)) * W : 0, y = H - 1 - (peak > 0 ? (v / peak) * (H - 3) : 0);
        d += (i ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1);
      });
      var total = s[f].reduce(function (a, b) { return a + b; }, 0);
      svg.append(svgEl('path', { 'data-series': f, 'data-bytes': String(total), d: d, fill: 'none', stroke: FLOW_COLORS[f], 'stroke-width': '2', 'vector-effect': 'non-scaling-stroke' }));
    });
    box.append(head, svg);
    return box;
  }
`
