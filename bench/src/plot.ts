import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import type { WorkloadRun } from './results.js';

const HEIGHT = 560;
const PANEL = { width: 500, height: 380, top: 86, gap: 100, margin: 80 };
const COLORS: Record<string, string> = {
  iocluster: '#1f6fb4',
  baseline: '#e07b10',
  'iocluster-msgpack': '#2a9d3c',
  'iocluster-workers': '#8e44ad',
};
const FONT_FILES = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'];

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** 1, 2, 5 × 10^k steps giving about `count` ticks up to `max`. */
function niceTicks(max: number, count: number): number[] {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step / 2; v += step) ticks.push(v);
  return ticks;
}

function panel(workload: WorkloadRun, left: number): string {
  const { width, height, top } = PANEL;
  const series = workload.runs.flatMap((r) =>
    (['p50', 'p99'] as const).map((pct) => ({
      system: r.system,
      pct,
      points: r.steps.map((s) => ({
        x: s.deliveredMsgsPerSec,
        y: Math.max(0.01, s.latencyMs[pct]),
        ok: s.ok,
      })),
    })),
  );
  const all = series.flatMap((s) => s.points);
  const xTicks = niceTicks(Math.max(1, ...all.map((p) => p.x)) * 1.05, 6);
  const xMax = xTicks[xTicks.length - 1]!;
  const yMin = 10 ** Math.floor(Math.log10(Math.min(1, ...all.map((p) => p.y))));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(100, ...all.map((p) => p.y))));
  const x = (v: number) => left + (v / xMax) * width;
  const y = (v: number) =>
    top + height - ((Math.log10(v) - Math.log10(yMin)) / Math.log10(yMax / yMin)) * height;
  const out: string[] = [];
  out.push(`<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="#fff" stroke="#999"/>`);
  for (let v = yMin; v <= yMax * 1.001; v *= 10) {
    out.push(`<line x1="${left}" x2="${left + width}" y1="${y(v)}" y2="${y(v)}" stroke="#e4e4e4"/>`);
    out.push(
      `<text x="${left - 8}" y="${y(v) + 4}" text-anchor="end" font-size="12">${Number(v.toPrecision(2))}</text>`,
    );
  }
  for (const v of xTicks) {
    out.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${top}" y2="${top + height}" stroke="#f0f0f0"/>`);
    out.push(
      `<text x="${x(v)}" y="${top + height + 18}" text-anchor="middle" font-size="12">${v.toLocaleString('en-US')}</text>`,
    );
  }
  out.push(
    `<line x1="${left}" x2="${left + width}" y1="${y(100)}" y2="${y(100)}" stroke="#c00" stroke-dasharray="4 4"/>`,
    `<text x="${left + width - 4}" y="${y(100) - 5}" text-anchor="end" font-size="11" fill="#c00">p99 limit 100 ms</text>`,
  );
  for (const s of series) {
    const color = COLORS[s.system] ?? '#333';
    const dash = s.pct === 'p99' ? ' stroke-dasharray="7 4"' : '';
    const path = s.points
      .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`)
      .join(' ');
    if (s.points.length > 1)
      out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const p of s.points) {
      out.push(
        `<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="4" stroke="${color}" stroke-width="2" fill="${p.ok ? color : '#fff'}"/>`,
      );
    }
  }
  const title = `fan-out ${Number(workload.fanout.toFixed(2))}: ${workload.clients} clients, ${workload.rooms} rooms`;
  out.push(
    `<text x="${left + width / 2}" y="${top - 12}" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${left + width / 2}" y="${top + height + 40}" text-anchor="middle" font-size="13">delivered messages/s</text>`,
    `<text x="${left - 52}" y="${top + height / 2}" text-anchor="middle" font-size="13" transform="rotate(-90 ${left - 52} ${top + height / 2})">latency (ms, log scale)</text>`,
  );
  return out.join('\n');
}

function legend(width: number, systems: readonly string[]): string {
  const items: string[] = [];
  // Two entries of 150 px per system plus the note: centred.
  let cx = width / 2 - (systems.length * 300 + 150) / 2 + 10;
  for (const system of systems) {
    for (const pct of ['p50', 'p99']) {
      const dash = pct === 'p99' ? ' stroke-dasharray="7 4"' : '';
      items.push(
        `<line x1="${cx}" x2="${cx + 34}" y1="${HEIGHT - 20}" y2="${HEIGHT - 20}" stroke="${COLORS[system] ?? '#333'}" stroke-width="2"${dash}/>`,
        `<text x="${cx + 40}" y="${HEIGHT - 18}" font-size="13">${system} ${pct}</text>`,
      );
      cx += 150;
    }
  }
  items.push(
    `<text x="${cx - 10}" y="${HEIGHT - 18}" font-size="12" fill="#555">hollow: failing step</text>`,
  );
  return items.join('\n');
}

/** Latency p50/p99 against delivered rate, one panel per workload, both systems; as SVG text. */
export function latencySvg(workloads: readonly WorkloadRun[], subtitle: string): string {
  const shown = workloads.slice(0, 2);
  const width = Math.max(
    960,
    PANEL.margin * 2 + shown.length * PANEL.width + (shown.length - 1) * PANEL.gap + 20,
  );
  const panels = shown.map((w, i) => panel(w, PANEL.margin + i * (PANEL.width + PANEL.gap)));
  const systems = [...new Set(shown.flatMap((w) => w.runs.map((r) => r.system)))];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" viewBox="0 0 ${width} ${HEIGHT}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="${width}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">iocluster vs Socket.IO + Redis adapter: latency against delivered rate</text>`,
    `<text x="${width / 2}" y="44" text-anchor="middle" font-size="12" fill="#555">${escapeXml(subtitle)}</text>`,
    ...panels,
    legend(width, systems),
    '</svg>',
  ].join('\n');
}

export function renderPng(svg: string): Buffer {
  const fontFiles = FONT_FILES.filter((file) => existsSync(file));
  const resvg = new Resvg(svg, {
    background: '#ffffff',
    font: { loadSystemFonts: fontFiles.length === 0, fontFiles, defaultFontFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
