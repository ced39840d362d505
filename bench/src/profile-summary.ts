import { readFileSync } from 'node:fs';
import { integer } from './options.js';

/**
 * `node bench/dist/profile-summary.js <file.cpuprofile> [--from-s <s>] [--top <n>]`: where a process's
 * busy time went in a V8 CPU profile (`npm run bench -- --cpu-prof`), by package and by function (self
 * time), leaving out the first `--from-s` seconds (start-up, connecting clients).
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A sample belongs to the first of these its stack meets from the leaf up (a write syscall in ioredis is ioredis's). */
const PACKAGES: [RegExp, string][] = [
  [/ioredis|redis-parser|standard-as-callback|denque/, 'ioredis'],
  [/\/ws\/lib\//, 'ws'],
  [/engine\.io/, 'engine.io'],
  [/socket\.io-parser/, 'socket.io-parser'],
  [/socket\.io-adapter/, 'socket.io-adapter'],
  [/socket\.io\//, 'socket.io'],
  [/prom-client/, 'prom-client'],
  [/pino/, 'pino'],
  [/bullmq/, 'bullmq'],
  [/packages\/io-node\//, 'io-node'],
  [/packages\/app-node\//, 'app-node'],
  [/packages\/shared\//, 'shared'],
  [/bench\/dist\//, 'bench handlers'],
  [/node:internal\/modules|cjs-module-lexer/, 'module loading'],
];
const SPECIAL = new Map([
  ['(idle)', 'idle'],
  ['(garbage collector)', 'garbage collector'],
  ['(program)', 'program'],
]);

export interface ProfileSummary {
  windowUs: number;
  busyUs: number;
  /** Busy µs by package, most first. */
  byPackage: [string, number][];
  /** Self µs by function (`name file:line`), most first. */
  bySelf: [string, number][];
}

function where(frame: CallFrame): string {
  const file = frame.url.replace(/^.*node_modules\//, '').replace(/^.*\/packages\//, '');
  return `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
}

export function summarize(profile: CpuProfile, fromUs: number): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const packageOf = new Map<number, string>();
  const classify = (id: number): string => {
    const known = packageOf.get(id);
    if (known) return known;
    let found = SPECIAL.get(byId.get(id)!.callFrame.functionName);
    for (let at: number | undefined = id; !found && at !== undefined; at = parent.get(at)) {
      const url = byId.get(at)!.callFrame.url;
      found = PACKAGES.find(([pattern]) => pattern.test(url))?.[1];
    }
    const name = found ?? 'node (other)';
    packageOf.set(id, name);
    return name;
  };
  const packages = new Map<string, number>();
  const self = new Map<string, number>();
  let time = profile.startTime;
  let windowUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    time += delta;
    if (time - profile.startTime < fromUs) continue;
    const id = profile.samples[i]!;
    windowUs += delta;
    const name = classify(id);
    if (name === 'idle') continue;
    packages.set(name, (packages.get(name) ?? 0) + delta);
    const fn = where(byId.get(id)!.callFrame);
    self.set(fn, (self.get(fn) ?? 0) + delta);
  }
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);
  const busyUs = [...packages.values()].reduce((a, b) => a + b, 0);
  return { windowUs, busyUs, byPackage: sorted(packages), bySelf: sorted(self) };
}

function main(argv: string[]): void {
  const file = argv.find((arg) => !arg.startsWith('--') && !/^\d+$/.test(arg));
  const option = (name: string) => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  if (!file)
    throw new Error('usage: node bench/dist/profile-summary.js <file.cpuprofile> [--from-s 3] [--top 25]');
  const fromS = integer(option('from-s') ?? '0', '--from-s', 0, 3_600);
  const top = integer(option('top') ?? '25', '--top', 1, 1_000);
  const summary = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, fromS * 1e6);
  const pct = (us: number) => `${((100 * us) / Math.max(1, summary.busyUs)).toFixed(1).padStart(5)}%`;
  const out = process.stdout;
  out.write(
    `${file}: ${(summary.windowUs / 1e6).toFixed(1)} s from ${fromS} s on, busy ${(summary.busyUs / 1e6).toFixed(2)} s\n\nbusy time by package:\n`,
  );
  for (const [name, us] of summary.byPackage) out.write(`  ${pct(us)}  ${name}\n`);
  out.write('\nself time by function:\n');
  for (const [name, us] of summary.bySelf.slice(0, top)) out.write(`  ${pct(us)}  ${name}\n`);
}

main(process.argv.slice(2));
