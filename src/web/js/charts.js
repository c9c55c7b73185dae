// charts: small inline-SVG charts (bars and a donut) with a text summary for screen readers.

const NS = 'http://www.w3.org/2000/svg';
export const PALETTE = ['#c2410c', '#7c3aed', '#0f766e', '#b45309', '#be185d', '#1d4ed8', '#4d7c0f'];

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

let seq = 0;

function figure(title, svg, summary) {
  const fig = document.createElement('figure');
  fig.className = 'chart';
  const cap = document.createElement('figcaption');
  cap.textContent = title;
  const id = 'chart-' + ++seq;
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-labelledby', id);
  const t = s('title', { id }, title + ': ' + summary);
  svg.prepend(t);
  fig.append(cap, svg);
  return fig;
}

// data: [{label, count|value}]
export function barChart(title, data, color = PALETTE[0]) {
  const items = (data || []).map((d) => ({ label: String(d.label ?? ''), v: Number(d.count ?? d.value ?? 0) || 0 }));
  const W = 320;
  const H = 180;
  const pad = { l: 28, r: 8, t: 14, b: 34 };
  // A round top value so that the three axis labels are whole numbers.
  const top = Math.max(0, ...items.map((d) => d.v));
  const max = top <= 4 ? 4 : Math.ceil(top / 4) * 4;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', preserveAspectRatio: 'xMidYMid meet' });
  const innerW = W - pad.l - pad.r;
  const innerH = H - pad.t - pad.b;
  // Grid lines at 0, half and max.
  for (const frac of [0, 0.5, 1]) {
    const y = pad.t + innerH - innerH * frac;
    svg.append(s('line', { x1: pad.l, x2: W - pad.r, y1: y, y2: y, class: 'chart-grid' }));
    svg.append(s('text', { x: pad.l - 6, y: y + 4, 'text-anchor': 'end', class: 'chart-axis' }, String(Math.round(max * frac))));
  }
  const n = Math.max(1, items.length);
  const slot = innerW / n;
  const bw = Math.min(36, slot * 0.62);
  items.forEach((d, i) => {
    const bh = (d.v / max) * innerH;
    const x = pad.l + slot * i + (slot - bw) / 2;
    const y = pad.t + innerH - bh;
    svg.append(s('rect', { x, y, width: bw, height: Math.max(bh, d.v ? 2 : 0), rx: 6, fill: color, class: 'chart-bar' }));
    if (d.v) svg.append(s('text', { x: x + bw / 2, y: y - 3, 'text-anchor': 'middle', class: 'chart-value' }, String(d.v)));
    const room = Math.max(3, Math.floor(slot / 6.5));
    // "Jun 2026" becomes "Jun" when there is no room for the year.
    const fit = d.label.length > room ? d.label.replace(/^(\p{L}+) \d{4}$/u, '$1') : d.label;
    const short = fit.length > room ? fit.slice(0, room - 1) + '…' : fit;
    svg.append(s('text', { x: x + bw / 2, y: H - pad.b + 16, 'text-anchor': 'middle', class: 'chart-axis' }, short));
  });
  if (!items.length) svg.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-axis' }, 'Nothing yet'));
  const summary = items.length ? items.map((d) => `${d.label} ${d.v}`).join(', ') : 'no data yet';
  return figure(title, svg, summary);
}

export function donutChart(title, data) {
  const items = (data || []).map((d) => ({ label: String(d.label ?? ''), v: Number(d.value ?? d.count ?? 0) || 0 }))
    .filter((d) => d.v > 0);
  const total = items.reduce((a, d) => a + d.v, 0);
  const svg = s('svg', { viewBox: '0 0 320 180', class: 'chart-svg' });
  const cx = 90;
  const cy = 90;
  const r = 62;
  const C = 2 * Math.PI * r;
  let offset = 0;
  svg.append(s('circle', { cx, cy, r, fill: 'none', class: 'chart-ring', 'stroke-width': 26 }));
  items.forEach((d, i) => {
    const len = (d.v / total) * C;
    svg.append(s('circle', {
      cx, cy, r, fill: 'none', stroke: PALETTE[i % PALETTE.length], 'stroke-width': 26,
      'stroke-dasharray': `${len} ${C - len}`, 'stroke-dashoffset': -offset,
      transform: `rotate(-90 ${cx} ${cy})`,
    }));
    offset += len;
    const ly = 30 + i * 24;
    svg.append(s('rect', { x: 180, y: ly - 11, width: 14, height: 14, rx: 4, fill: PALETTE[i % PALETTE.length] }));
    svg.append(s('text', { x: 200, y: ly, class: 'chart-legend' }, `${d.label} (${d.v})`));
  });
  svg.append(s('text', { x: cx, y: cy + 7, 'text-anchor': 'middle', class: 'chart-total' }, String(total)));
  const summary = items.length ? items.map((d) => `${d.label} ${d.v}`).join(', ') : 'no stories yet';
  return figure(title, svg, summary);
}
