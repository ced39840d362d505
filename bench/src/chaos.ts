import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHAOS_CASE_NAMES, type ChaosCaseName } from './chaos-cases.js';
import { type ChaosOptions, type ChaosRecord, chaosMarkdown, runChaosCase } from './chaos-run.js';
import { envPairs, integer } from './options.js';
import { type MachineInfo, machineInfo } from './proc-stats.js';
import { machineLine } from './report.js';

/**
 * `npm run chaos`: the chat load through `@iocluster/client` (2 io-nodes, 2 app-nodes, Redis with AOF)
 * and, one case at a time on a fresh cluster, a failure: every delivery accounted for. See `--help`.
 */
const USAGE = `usage: npm run chaos -- [options]   (or: node bench/dist/chaos.js [options])
  --short                 CI mode: app-node-kill, io-node-kill and one Redis restart at 200 msgs/s, 60 clients
  --cases <names>         ${CHAOS_CASE_NAMES.join(', ')}
                                                                              default: all (short: 3)
  --rate <msgs/s>         offered load (a third of the README's fan-out 10 knee)  default: 1150 (short: 200)
  --clients <n>           clients (@iocluster/client, through the frontend)   default: 200 (short: 60)
  --rooms <n>             rooms (history on, so moved clients recover)        default: 20 (short: 6)
  --fault-after-ms <ms>   load before the failure                             default: 5000 (short: 2000)
  --tail-ms <ms>          load after the failure                              default: 10000 (short: 3000)
  --drain-ms <ms>         wait for missing deliveries after the last send     default: 60000 (short: 30000)
  --redis-restarts <n>    restarts in the redis-restart case                  default: 5 (short: 1)
  --slow-ms <ms>          a delivery slower than this is "not recovered yet"  default: 500
  --env <K=V,...>         extra environment of every node (e.g. INGRESS_TRANSPORT=bullmq); may be repeated
  --log <file>            append every line the nodes print (with LOG_LEVEL=info in --env: their info too),
                          each after its time in ms and the node's label
  --out <dir>             results directory                                   default: bench/results`;

interface CliOptions extends ChaosOptions {
  short: boolean;
  outDir: string;
  help: boolean;
}

/** The numeric options: the field each sets and its bounds. */
const NUMERIC: Readonly<Record<string, readonly [NumericOption, number, number]>> = {
  '--rate': ['rate', 1, 100_000],
  '--clients': ['clients', 2, 10_000],
  '--rooms': ['rooms', 1, 10_000],
  '--fault-after-ms': ['faultAfterMs', 0, 600_000],
  '--tail-ms': ['tailMs', 0, 600_000],
  '--drain-ms': ['drainMs', 1_000, 600_000],
  '--redis-restarts': ['redisRestarts', 1, 100],
  '--slow-ms': ['slowMs', 1, 600_000],
};
/** The fields of ChaosOptions that hold a number. */
type NumericOption = {
  [K in keyof ChaosOptions]-?: ChaosOptions[K] extends number ? K : never;
}[keyof ChaosOptions];

function parse(argv: string[]): CliOptions {
  const short = argv.includes('--short');
  const options: CliOptions = {
    short,
    help: argv.includes('--help'),
    cases: short ? ['app-node-kill', 'io-node-kill', 'redis-restart'] : [...CHAOS_CASE_NAMES],
    rate: short ? 200 : 1_150,
    clients: short ? 60 : 200,
    rooms: short ? 6 : 20,
    faultAfterMs: short ? 2_000 : 5_000,
    tailMs: short ? 3_000 : 10_000,
    drainMs: short ? 30_000 : 60_000,
    redisRestarts: short ? 1 : 5,
    slowMs: 500,
    env: {},
    outDir: fileURLToPath(new URL('../results', import.meta.url)),
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--short' || flag === '--help') continue;
    const value = argv[++i];
    const numeric = NUMERIC[flag];
    if (numeric) {
      const [field, min, max] = numeric;
      options[field] = integer(value, flag, min, max);
      continue;
    }
    switch (flag) {
      case '--cases': {
        const names = (value ?? '').split(',').map((s) => s.trim());
        for (const n of names) {
          if (!(CHAOS_CASE_NAMES as readonly string[]).includes(n)) throw new Error(`unknown case "${n}"`);
        }
        options.cases = names as ChaosCaseName[];
        break;
      }
      case '--log':
        options.logFile = resolve(value ?? '');
        break;
      case '--out':
        options.outDir = resolve(value ?? '');
        break;
      case '--env':
        options.env = { ...options.env, ...envPairs(value) };
        break;
      default:
        throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  if (options.rooms > options.clients) throw new Error('--rooms must not exceed --clients');
  return options;
}

export interface ChaosResults {
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  options: ChaosOptions & { short: boolean };
  cases: ChaosRecord[];
}

async function main(): Promise<void> {
  const { help, outDir, ...options } = parse(process.argv.slice(2));
  if (help) {
    console.log(USAGE);
    return;
  }
  const startedAt = new Date();
  const machine = machineInfo(redisVersion());
  console.log(`machine: ${machineLine(machine)}`);
  console.log(
    `load: ${options.rate} msgs/s, ${options.clients} clients in ${options.rooms} rooms (@iocluster/client), ` +
      '2 io-nodes, 2 app-nodes, Redis with AOF (appendfsync everysec), ' +
      `INGRESS_TRANSPORT=${options.env.INGRESS_TRANSPORT ?? 'streams (the default)'}`,
  );
  const records: ChaosRecord[] = [];
  for (const name of options.cases) {
    console.log(`case ${name}...`);
    const record = await runChaosCase(name, options);
    records.push(record);
    console.log(
      `  sent ${record.sent}, delivered ${record.delivered}/${record.expected}, lost ${record.lost}, ` +
        `duplicated ${record.duplicated}, recovered in ${record.recoverSeconds} s, ` +
        `p99 ${record.latencyMs.p99} ms, reconnects ${record.reconnects} (${record.recovered} recovered)` +
        (Object.keys(record.ackErrors).length > 0 ? `, ack errors ${JSON.stringify(record.ackErrors)}` : ''),
    );
  }
  const results: ChaosResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine,
    options,
    cases: records,
  };
  mkdirSync(outDir, { recursive: true });
  const json = `${JSON.stringify(results, null, 2)}\n`;
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(outDir, 'chaos-latest.json'), json);
  writeFileSync(join(outDir, `chaos-${stamp}.json`), json);
  console.log(`\n${chaosMarkdown(records)}\n`);
  console.log(`results: ${join(outDir, 'chaos-latest.json')}`);
  const lost = records.reduce((n, r) => n + r.lost, 0);
  if (lost > 0) {
    console.log(`${lost} deliveries lost`);
    process.exitCode = 1;
  }
}

/** The version of the redis-server on the PATH, which the cases run. */
function redisVersion(): string {
  const out = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /v=(\S+)/.exec(out)?.[1] ?? 'unknown';
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
