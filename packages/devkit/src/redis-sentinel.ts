import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { DevkitError } from './errors.js';
import { freePort } from './free-port.js';
import { redisCommand } from './redis-probe.js';
import { type RedisProcess, startRedisProcess } from './redis-process.js';
import { type RedisServer, startRedisServer } from './redis-server.js';
import { pairs, parseInfo } from './resp.js';
import { type Probe, waitUntil } from './wait-until.js';

/** Options of {@link startRedisSentinel}. */
export interface RedisSentinelOptions {
  /** The monitored primary's name (`REDIS_SENTINEL_NAME`). @defaultValue 'iocluster' */
  name?: string;
  /** Replicas of the primary. @defaultValue 1 */
  replicas?: number;
  /** Sentinel processes. @defaultValue 3 */
  sentinels?: number;
  /** Sentinels that must agree the primary is down before a failover. @defaultValue 2 */
  quorum?: number;
  /** `down-after-milliseconds`: silence after which a sentinel deems a server down. @defaultValue 1000 */
  downAfterMs?: number;
  /** `failover-timeout`, which also spaces retries of a failed failover. @defaultValue 5000 */
  failoverTimeoutMs?: number;
  /** AOF on every server (see `RedisServerOptions.aof`). @defaultValue false */
  aof?: boolean;
  /** Receives every line of every process, with its label (`server-0`, `sentinel-2`). @defaultValue dropped */
  output?: (label: string, line: string) => void;
  /** How long the setup may take to become healthy, and each failover to complete. @defaultValue 20000 */
  timeoutMs?: number;
}

/** A `host:port` as ioredis and shared's `RedisTarget` take it. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * A primary, its replicas and the sentinels watching them, all on 127.0.0.1 in one private temp dir.
 * `servers` and `sentinels` keep their order; which server is primary changes with failovers.
 */
export interface RedisSentinelSetup {
  /** The monitored primary's name. */
  readonly name: string;
  /** The Redis servers; `servers[0]` was the primary at the start. */
  readonly servers: readonly RedisServer[];
  /** The sentinel processes (same controls as a server: stop, restart, freeze, thaw). */
  readonly sentinels: readonly RedisProcess[];
  /** What a user sets: `REDIS_SENTINELS` (`127.0.0.1:p1,127.0.0.1:p2,...`) and `REDIS_SENTINEL_NAME`. */
  readonly env: { readonly REDIS_SENTINELS: string; readonly REDIS_SENTINEL_NAME: string };
  /** The same as a `RedisTarget` of packages/shared (`createRedis(target, role)`). */
  readonly target: {
    readonly kind: 'sentinel';
    readonly sentinels: readonly HostPort[];
    readonly name: string;
  };
  /** The server every live sentinel names as primary, once they agree and it says it is one. */
  primary(timeoutMs?: number): Promise<RedisServer>;
  /**
   * SENTINEL FAILOVER (no agreement needed), then {@link RedisSentinelSetup.waitForNewPrimary} and
   * {@link RedisSentinelSetup.waitUntilHealthy}: resolves with the new primary once every live server
   * replicates from it, so another failover can follow at once.
   */
  failover(timeoutMs?: number): Promise<RedisServer>;
  /**
   * Resolves with the new primary once every live sentinel names a server other than `previous` and that
   * server says it is a primary (after `previous` was killed or frozen, or a failover was asked for).
   */
  waitForNewPrimary(previous: RedisServer, timeoutMs?: number): Promise<RedisServer>;
  /**
   * Resolves with the primary once every live (running, not frozen) server and sentinel agrees:
   * replicas linked to it, sentinels seeing each other and every live replica.
   */
  waitUntilHealthy(timeoutMs?: number): Promise<RedisServer>;
  /** Kills every process it started (by PID) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** `SENTINEL DEBUG` timers for tests, in ms. */
const SENTINEL_TIMERS = {
  'info-period': '500',
  'publish-period': '500',
  'tilt-period': '5000',
  'min-link-reconnect-period': '3000',
} as const;

/**
 * Sentinel's own timers, shortened (Redis 7 lets tests do that; a restart resets them): hello messages,
 * INFO polls and the delay before a returning old primary is turned into a replica (4 publish periods)
 * take seconds at their defaults (2 s, 10 s); a TILT after a stall (a frozen sentinel) would block
 * failovers for 30 s.
 */
async function applySentinelTimers(url: string): Promise<void> {
  await redisCommand(url, ['SENTINEL', 'DEBUG', ...Object.entries(SENTINEL_TIMERS).flat()]);
}

const isLive = (p: RedisProcess) => p.child.exitCode === null && p.child.signalCode === null && !p.frozen;

/**
 * Starts a Sentinel-managed Redis for tests: one primary, `replicas` replicas and `sentinels` sentinels
 * (`redis-sentinel`, Debian package redis-sentinel) on free ports of 127.0.0.1, with short timeouts, and
 * resolves once it is healthy. Each server reads a config file in its own dir, so the role Sentinel
 * gives it survives a restart. On failure, whatever it started is stopped again.
 */
export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinelSetup> {
  const name = options.name ?? 'iocluster';
  const replicaCount = options.replicas ?? 1;
  const sentinelCount = options.sentinels ?? 3;
  const quorum = options.quorum ?? 2;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 5_000;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new RangeError(`startRedisSentinel(): bad name "${name}"`);
  if (!(Number.isInteger(quorum) && quorum >= 1 && quorum <= sentinelCount)) {
    throw new RangeError(`startRedisSentinel(): quorum must be 1..${sentinelCount}, got ${quorum}`);
  }
  const root = await mkdtemp(join(tmpdir(), 'devkit-sentinel-'));
  const servers: RedisServer[] = [];
  const sentinels: RedisProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled([...sentinels, ...servers].map((p) => p.stop('SIGKILL')));
    await rm(root, { recursive: true, force: true });
  };
  const output = (label: string) =>
    options.output ? (line: string) => options.output?.(label, line) : undefined;

  const serverAt = (port: number) => servers.find((s) => s.port === port);
  const liveSentinels = () => sentinels.filter(isLive);

  /** The primary every live sentinel names, if they agree. */
  async function agreedPrimary(): Promise<Probe<RedisServer>> {
    const live = liveSentinels();
    if (live.length === 0) return { done: false, why: 'no live sentinel' };
    const named = await Promise.all(
      live.map((s) => redisCommand(s.url, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name], 1_000)),
    );
    const ports = new Set(named.map((reply) => (Array.isArray(reply) ? Number(reply[1]) : 0)));
    const [port] = ports;
    const server = port === undefined ? undefined : serverAt(port);
    if (ports.size !== 1 || !server) return { done: false, why: `sentinels name ${[...ports].join(', ')}` };
    if (!isLive(server)) return { done: false, why: `named primary ${port} is down` };
    const role = await redisCommand(server.url, ['ROLE'], 1_000);
    if (!Array.isArray(role) || role[0] !== 'master')
      return { done: false, why: `${port} is not a master yet` };
    return { done: true, value: server };
  }

  async function healthy(): Promise<Probe<RedisServer>> {
    const agreed = await agreedPrimary();
    if (!agreed.done) return agreed;
    const primary = agreed.value;
    const replicas = servers.filter((s) => s !== primary && isLive(s));
    for (const replica of replicas) {
      const info = parseInfo(await redisCommand(replica.url, ['INFO', 'replication'], 1_000));
      if (info.get('role') !== 'slave' || info.get('master_port') !== String(primary.port)) {
        return { done: false, why: `${replica.port} does not replicate from ${primary.port} yet` };
      }
      if (info.get('master_link_status') !== 'up') return { done: false, why: `${replica.port} link down` };
    }
    const live = liveSentinels();
    for (const sentinel of live) {
      const master = pairs(await redisCommand(sentinel.url, ['SENTINEL', 'MASTER', name], 1_000));
      if (master.get('num-other-sentinels') !== String(live.length - 1)) {
        return {
          done: false,
          why: `sentinel ${sentinel.port} knows ${master.get('num-other-sentinels')} others`,
        };
      }
      const known = await redisCommand(sentinel.url, ['SENTINEL', 'REPLICAS', name], 1_000);
      const good = (Array.isArray(known) ? known : []).map(pairs).filter((r) => {
        const flags = r.get('flags') ?? '';
        return !flags.includes('s_down') && !flags.includes('disconnected');
      });
      if (!replicas.every((replica) => good.some((r) => r.get('port') === String(replica.port)))) {
        return { done: false, why: `sentinel ${sentinel.port} does not see every replica up` };
      }
    }
    return { done: true, value: primary };
  }

  try {
    for (let i = 0; i <= replicaCount; i++) {
      const dir = join(root, `server-${i}`);
      await mkdir(dir);
      const configFile = join(dir, 'redis.conf');
      const primaryPort = servers[0]?.port;
      await writeFile(configFile, primaryPort === undefined ? '' : `replicaof 127.0.0.1 ${primaryPort}\n`);
      servers.push(
        await startRedisServer({ dir, configFile, aof: options.aof ?? false, output: output(`server-${i}`) }),
      );
    }
    for (let i = 0; i < sentinelCount; i++) {
      const dir = join(root, `sentinel-${i}`);
      await mkdir(dir);
      const port = await freePort();
      const configFile = join(dir, 'sentinel.conf');
      await writeFile(
        configFile,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'protected-mode no',
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${servers[0]!.port} ${quorum}`,
          `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1_000}`,
          `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      sentinels.push(
        await startRedisProcess({
          program: 'redis-sentinel',
          args: [configFile],
          port,
          output: output(`sentinel-${i}`),
          readyTimeoutMs: 10_000,
          afterStart: applySentinelTimers,
        }),
      );
    }
    await waitUntil('sentinel setup healthy', healthy, timeoutMs);
  } catch (err) {
    await stop();
    throw err;
  }

  const sentinelAddresses = sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
  const setup: RedisSentinelSetup = {
    name,
    servers,
    sentinels,
    env: {
      REDIS_SENTINELS: sentinelAddresses.map((s) => `${s.host}:${s.port}`).join(','),
      REDIS_SENTINEL_NAME: name,
    },
    target: { kind: 'sentinel', sentinels: sentinelAddresses, name },
    primary: (ms = timeoutMs) => waitUntil('sentinels agree on a primary', agreedPrimary, ms),
    waitUntilHealthy: (ms = timeoutMs) => waitUntil('sentinel setup healthy', healthy, ms),
    waitForNewPrimary(previous, ms = timeoutMs) {
      return waitUntil(
        `a primary other than ${previous.port}`,
        async () => {
          const agreed = await agreedPrimary();
          if (agreed.done && agreed.value === previous) return { done: false, why: `still ${previous.port}` };
          return agreed;
        },
        ms,
      );
    },
    async failover(ms = timeoutMs) {
      const deadline = Date.now() + ms;
      const previous = await setup.primary(ms);
      // A sentinel may refuse (NOGOODSLAVE while its view of the replica is stale, INPROG) or stall (TILT
      // after a scheduling hiccup): ask the next one after a failover-timeout's worth of waiting.
      for (let attempt = 0; ; attempt++) {
        const live = liveSentinels();
        const sentinel = live[attempt % live.length];
        if (!sentinel) throw new RangeError('failover(): no live sentinel');
        const refused = await redisCommand(sentinel.url, ['SENTINEL', 'FAILOVER', name]).then(
          () => undefined,
          (err: Error) => err,
        );
        if (refused === undefined) {
          try {
            const waitMs = Math.max(1, Math.min(deadline - Date.now(), failoverTimeoutMs + 2_000));
            await setup.waitForNewPrimary(previous, waitMs);
            break;
          } catch (err) {
            if (Date.now() >= deadline) throw err;
          }
        } else if (Date.now() >= deadline) {
          throw new DevkitError('TOPOLOGY_TIMEOUT', `failover(): refused for ${ms} ms: ${refused.message}`);
        } else {
          await delay(200);
        }
      }
      return setup.waitUntilHealthy(Math.max(deadline - Date.now(), 1_000));
    },
    stop,
  };
  return setup;
}
