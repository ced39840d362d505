import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedisServer } from '@iocluster/devkit';
import { costLine } from './cost.js';
import { GeneratorPool } from './generators.js';
import { type BenchOptions, parseOptions, USAGE } from './options.js';
import { latencySvg, renderPng } from './plot.js';
import { machineInfo } from './proc-stats.js';
import { kneeOf, machineLine, markdown, scaleLine, statusText, stepLine } from './report.js';
import type { BenchResults, MemoryRecord, SystemRun, WorkloadRun } from './results.js';
import { runScaleStep, SCALE_IO_NODES, SCALE_LOADS, type ScaleRecord, scaleRate } from './scale.js';
import { probeMemory, runWorkload, takeTag } from './scenario.js';
import { PEERS, type RunningSystem, type SystemName, startSystem } from './systems.js';
import { evaluateTargets } from './targets.js';

/**
 * `npm run bench`: iocluster (2 io-nodes + 1 app-node) against plain Socket.IO with the Redis adapter
 * (2 servers), same load, same private Redis, one after the other. See `--help`.
 */
const PROFILE_DIR = fileURLToPath(new URL('../profiles', import.meta.url));

/** Whatever is running right now, so a signal or an error stops it. */
const running = new Set<{ close(): Promise<void> }>();

async function withSystem<T>(
  name: SystemName,
  redis: RedisServer,
  options: BenchOptions,
  body: (system: RunningSystem, pool: GeneratorPool) => Promise<T>,
  generators = options.generators,
  ioNodes?: number,
): Promise<T> {
  await redis.flush();
  const system = await startSystem(name, {
    redisUrl: redis.url,
    prefix: `bench${randomBytes(3).toString('hex')}`,
    env: options.ioclusterEnv,
    ...(ioNodes ? { ioNodes } : {}),
    ...(options.cpuProf && !PEERS.includes(name) ? { cpuProfDir: PROFILE_DIR } : {}),
  });
  const systemHandle = { close: () => system.stop() };
  running.add(systemHandle);
  let pool: GeneratorPool | undefined;
  try {
    pool = await GeneratorPool.start(generators);
    const poolHandle = pool;
    running.add(poolHandle);
    try {
      return await body(system, pool);
    } finally {
      await pool.close();
      running.delete(poolHandle);
    }
  } finally {
    await system.stop();
    running.delete(systemHandle);
  }
}

function warningsOf(system: RunningSystem): SystemRun['warnings'] {
  const out: SystemRun['warnings'] = {};
  for (const child of system.processes) {
    if (child.warnings.count > 0)
      out[child.label] = { count: child.warnings.count, first: [...child.warnings.first] };
  }
  return out;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const startedAt = new Date();
  const redis = await startRedisServer();
  running.add({ close: () => redis.stop() });
  const machine = machineInfo(redis.version);
  console.log(`machine: ${machineLine(machine)}`);
  if ((machine.loadAverageAtStart[0] ?? 0) > machine.cores / 2) {
    console.log(
      `warning: load average ${machine.loadAverageAtStart[0]} on ${machine.cores} cores: other work will skew ` +
        'the figures (each step reports the CPU used outside the benchmark as "other")',
    );
  }
  console.log(
    `mode: ${options.short ? 'short' : 'full'}; systems ${options.systems.join(', ')}; ` +
      `workloads ${options.workloads.map((w) => `${w.name} (${w.clients} clients, ${w.rooms} rooms, steps ${w.steps.join(',')})`).join('; ')}; ` +
      `${options.durationMs} ms per step, drain ${options.drainMs} ms, ${options.generators} generator(s)`,
  );
  if (options.cpuProf) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    console.log(`cpu profiles of the iocluster processes go to ${PROFILE_DIR}`);
  }

  const workloads: WorkloadRun[] = [];
  const scale: ScaleRecord[] = [];
  for (const workload of options.workloads.filter((w) => w.name === 'scale')) {
    for (const load of SCALE_LOADS) {
      for (const ioNodes of SCALE_IO_NODES) {
        const record = await withSystem(
          'iocluster',
          redis,
          options,
          (system, pool) => {
            const pids = new Map<string, number>([...system.pids, ['redis', redis.pid]]);
            const tag = takeTag();
            takeTag();
            const rate = scaleRate(load, workload.steps[0]!, ioNodes);
            return runScaleStep(system, pool, pids, load, rate, options.durationMs, options.drainMs, tag);
          },
          undefined,
          ioNodes,
        );
        console.log(scaleLine(record));
        scale.push(record);
      }
    }
  }
  for (const workload of options.workloads.filter((w) => w.name !== 'scale')) {
    const runs: SystemRun[] = [];
    for (const name of options.systems) {
      const run = await withSystem(name, redis, options, async (system, pool) => {
        const pids = new Map<string, number>([
          ...system.pids,
          ...pool.children.map((p) => [p.label, p.pid] as const),
          ['redis', redis.pid],
          ['bench', process.pid],
        ]);
        const result = await runWorkload(workload, {
          system,
          pool,
          options,
          pids,
          redisUrl: redis.url,
          onStep: (step) => {
            console.log(stepLine(workload.name, name, step));
            const cost = costLine(step);
            if (cost) console.log(cost);
          },
        });
        result.warnings = warningsOf(system);
        return result;
      });
      run.knee = kneeOf(run.steps);
      if (run.warmup && run.warmup.lost + run.warmup.duplicates > 0) {
        console.log(
          `${workload.name} ${name}: warm-up lost ${run.warmup.lost}, duplicates ${run.warmup.duplicates}`,
        );
      }
      for (const [label, w] of Object.entries(run.warnings)) {
        console.log(
          `${workload.name} ${name}: ${label} logged ${w.count} warning(s)/error(s), first: ${w.first[0]}`,
        );
      }
      runs.push(run);
    }
    const io = runs.find((r) => r.system === 'iocluster')?.knee;
    const ratios: Record<string, number | null> = {};
    for (const peer of PEERS) {
      const knee = runs.find((r) => r.system === peer)?.knee;
      if (!runs.some((r) => r.system === peer)) continue;
      ratios[peer] =
        io && knee && knee.msgsPerSec > 0 ? Math.round((io.msgsPerSec / knee.msgsPerSec) * 100) / 100 : null;
    }
    const fanouts = runs.flatMap((r) => r.steps.filter((s) => s.sent > 0).map((s) => s.expected / s.sent));
    workloads.push({
      name: workload.name,
      clients: workload.clients,
      rooms: workload.rooms,
      fanout: fanouts[0] ?? workload.clients / workload.rooms,
      runs,
      ratio: ratios.baseline ?? null,
      ratios,
    });
    for (const r of runs) {
      console.log(
        `${workload.name} ${r.system} knee: ${r.knee ? `${r.knee.bounded ? '' : '≥ '}${r.knee.msgsPerSec} msgs/s` : 'none'}`,
      );
    }
  }

  const memory: MemoryRecord[] = [];
  if (options.memoryClients > 0) {
    // The memory target compares iocluster with the baseline; the variants would add minutes, not facts.
    for (const name of options.systems.filter((s) => s === 'iocluster' || s === 'baseline')) {
      const record = await withSystem(name, redis, options, (system, pool) =>
        probeMemory(system, pool, options.memoryClients),
      );
      console.log(
        `memory ${name}: ${record.server} RSS ${(record.rssBeforeBytes / 2 ** 20).toFixed(1)} → ` +
          `${(record.rssAfterBytes / 2 ** 20).toFixed(1)} MiB with ${record.clients} idle clients: ` +
          `${record.perClientKB} KB per connection`,
      );
      memory.push(record);
    }
  }

  const { outDir, ...recorded } = options;
  const results: BenchResults = {
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: process.argv.slice(2).join(' '),
    machine,
    options: recorded,
    workloads,
    scale,
    memory,
    targets: evaluateTargets(workloads, memory),
  };
  mkdirSync(outDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const json = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(join(outDir, 'latest.json'), json);
  writeFileSync(join(outDir, `bench-${stamp}.json`), json);
  if (workloads.length > 0) {
    const svg = latencySvg(workloads, machineLine(machine));
    const png = renderPng(svg);
    writeFileSync(join(outDir, 'latest.svg'), svg);
    writeFileSync(join(outDir, 'latest.png'), png);
    writeFileSync(join(outDir, `bench-${stamp}.png`), png);
  }
  console.log(`\n${markdown(results)}\n`);
  for (const t of results.targets) {
    console.log(`target ${t.target} (${t.goal}): ${statusText(t)}; measured ${t.measured}`);
  }
  console.log(
    `\nresults: ${join(outDir, 'latest.json')}${workloads.length > 0 ? `, ${join(outDir, 'latest.png')}` : ''}`,
  );
}

async function closeAll(): Promise<void> {
  for (const handle of [...running].reverse()) {
    await handle.close().catch(() => undefined);
    running.delete(handle);
  }
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${signal}: stopping every process the benchmark started`);
    // Children that ignore SIGTERM are SIGKILLed by their own stop(); this is the last resort.
    setTimeout(() => process.exit(130), 30_000).unref();
    void closeAll().then(() => process.exit(130));
  });
}

main().then(
  async () => {
    await closeAll();
    process.exit(0);
  },
  async (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    await closeAll();
    process.exit(1);
  },
);
