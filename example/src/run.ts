import { randomBytes } from 'node:crypto';
import { setTimeout as pause } from 'node:timers/promises';
import { checkSettings, loadSettings } from '@iocluster/shared';
import { prettyFactory } from 'pino-pretty';
import { type Stack, startStack } from './launcher.js';

/**
 * `npm run example`: the chat example on this machine. Uses the Redis at REDIS_URL (default
 * redis://127.0.0.1:6379), or starts a redis-server of its own on a free port when none answers (on a
 * Redis that was already running, a key prefix of its own unless IOCLUSTER_PREFIX is set, deleted on
 * stop, so that two examples on one Redis never meet); then
 * 2 io-nodes, 2 app-nodes and the frontend (FRONTEND_PORT, default 3000). Ctrl-C stops all of it.
 * EXAMPLE_IO_NODES / EXAMPLE_APP_NODES change the counts of processes, EXAMPLE_IO_WORKERS /
 * EXAMPLE_APP_WORKERS the nodes each of them runs (IO_NODE_WORKERS / APP_NODE_WORKERS, default 1);
 * FRONTEND_PROXY=on routes clients through the frontend. The admin view is on, with ADMIN_TOKEN or a
 * random token printed in the ready banner.
 */
// The environment is handed to every process started here: refuse it at once if any of them would, or if
// two tiers' settings clash (a handler timeout the io-nodes' event timeout never lets a handler reach).
try {
  checkSettings(['io-node', 'app-node', 'frontend', 'example']);
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}
const config = loadSettings('frontend');
const counts = loadSettings('example');
const COLORS = [36, 33, 35, 32, 34, 91, 96, 93];
const colorOf = new Map<string, number>();
const tty = process.stdout.isTTY === true;
let lastLineAt = Date.now();
// The processes log JSON lines (synchronously, in order); they are made readable here, one line per entry.
// Pretty-printing in each process instead would go through a worker thread, whose lines can arrive after
// the process has said it is ready, and so after the banner.
const pretty = prettyFactory({ colorize: tty, singleLine: true, ignore: 'pid,hostname,name' });
// On unless LOG_PRETTY says off: then the JSON lines as they are.
const prettyLogs = !process.env.LOG_PRETTY?.trim() || config.logPretty;

function readable(line: string): string {
  if (!prettyLogs || !line.startsWith('{')) return line;
  try {
    return pretty(line).trimEnd();
  } catch {
    return line;
  }
}

function print(name: string, line: string): void {
  lastLineAt = Date.now();
  if (!colorOf.has(name)) colorOf.set(name, COLORS[colorOf.size % COLORS.length]!);
  const label = name.padEnd(10);
  const prefix = tty ? `\x1b[${colorOf.get(name)}m${label}\x1b[0m` : label;
  process.stdout.write(`${prefix} | ${readable(line)}\n`);
}

if (config.redis.kind !== 'standalone') {
  process.stderr.write(
    'npm run example needs REDIS_URL (a single Redis); Sentinel/Cluster are for deployments\n',
  );
  process.exit(2);
}

const adminToken = config.adminToken ?? randomBytes(12).toString('base64url');
let stack: Stack | undefined;
let stopping = false;
// A Ctrl-C while the stack starts: startStack stops what it started and rejects (children run in their own
// process groups, so the terminal's signal reaches only this process).
const starting = new AbortController();
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  print('example', `${signal}: stopping every process it started`);
  if (!stack) {
    starting.abort();
    return;
  }
  await stack.stop();
  print('example', 'stopped');
  process.exit(0);
}
process.on('SIGINT', (signal) => void shutdown(signal));
process.on('SIGTERM', (signal) => void shutdown(signal));
// Last resort if the launcher dies some other way: nothing it started may outlive it.
process.on('exit', () => {
  for (const p of stack?.processes ?? []) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }
});

try {
  stack = await startStack({
    redisUrl: config.redis.url,
    // Unset: the launcher picks one that no other example on the same Redis uses.
    prefix: process.env.IOCLUSTER_PREFIX?.trim() ? config.prefix : undefined,
    ioNodes: counts.ioNodes,
    appNodes: counts.appNodes,
    ioWorkers: counts.ioWorkers,
    appWorkers: counts.appWorkers,
    frontendPort: config.port,
    host: process.env.FRONTEND_HOST ?? '127.0.0.1',
    proxy: config.proxy,
    adminToken,
    env: { LOG_PRETTY: 'off' },
    output: print,
    signal: starting.signal,
  });
} catch (err) {
  if (starting.signal.aborted) {
    print('example', 'stopped');
    process.exit(0);
  }
  print('example', `could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

/** A process's nodes: itself, or each worker it supervises (`IO_NODE_WORKERS` > 1). */
function nodesOf(ready: Record<string, unknown>): Record<string, unknown>[] {
  return Array.isArray(ready.workers) ? (ready.workers as Record<string, unknown>[]) : [ready];
}

const s = stack;
// The banner is what a newcomer needs, so it goes last: after the start-up logs have gone quiet (a
// registry announcement or two still arrive after the processes said they are ready), at most 3 s later.
const readyAt = Date.now();
lastLineAt = Math.max(lastLineAt, readyAt);
while (Date.now() - lastLineAt < 300 && Date.now() - readyAt < 3_000) await pause(50);
const lines = [
  '',
  `  redis     ${s.redisUrl}${s.redis ? ` (started here, pid ${s.redis.pid})` : ''}  prefix "${s.prefix}"`,
  `  frontend  ${s.frontendUrl}  pid ${s.frontend.pid}  live io-nodes: ${s.frontendUrl}/api/io-nodes`,
  ...s.ioNodes.flatMap((p) =>
    nodesOf(p.ready).map(
      (n) =>
        `  ${p.label.padEnd(9)} ${String(n.url)}  ${String(n.nodeId)}  pid ${String(n.pid ?? p.pid)}  ${String(n.url)}/metrics`,
    ),
  ),
  ...s.appNodes.flatMap((p) =>
    nodesOf(p.ready).map(
      (n) =>
        `  ${p.label.padEnd(9)} ${String(n.nodeId)}  pid ${String(n.pid ?? p.pid)}  ${String(n.metricsUrl ?? '')}`,
    ),
  ),
  '',
  `chat example ready: open ${s.frontendUrl}/ (in two windows to chat with yourself)`,
  `admin view:         ${s.frontendUrl}/admin?token=${encodeURIComponent(adminToken)}  (token ${adminToken})`,
  'Ctrl-C stops everything.',
];
for (const line of lines) print('example', line);
for (const p of s.processes) {
  void p.exited.then(() => {
    if (!stopping) print('example', `${p.label} (pid ${p.pid}) exited`);
  });
}
