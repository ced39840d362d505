import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { redisCommand } from './redis-probe.js';
import { type RedisProcess, startRedisProcess } from './redis-process.js';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Port on 127.0.0.1. @defaultValue a free port ({@link freePort}) */
  port?: number;
  /**
   * Append-only file on: every write is in the AOF (in {@link RedisServerOptions.dir}) before it is
   * acknowledged, so a restart on the same port (SIGKILL included; fsync is Redis's default `everysec`,
   * which only a host crash defeats) comes back with the data. @defaultValue false
   */
  aof?: boolean;
  /**
   * Working directory (`--dir`): AOF, `nodes.conf` of a Cluster node, config rewrites. Kept by
   * {@link RedisServer.close} when given. @defaultValue a private temp dir, removed by `close()`, when
   * `aof` is on; none otherwise (nothing is written)
   */
  dir?: string;
  /**
   * A config file read before the arguments (needed where Sentinel rewrites the config on a role
   * change, so a restart keeps the role). @defaultValue none
   */
  configFile?: string;
  /**
   * More `redis-server` arguments, after the defaults (`--port`, `--bind 127.0.0.1`, `--save ''`,
   * `--appendonly no|yes`, `--protected-mode no`, `--repl-diskless-sync-delay 0`, `--dir`); a later
   * argument wins. @defaultValue []
   */
  args?: string[];
  /** Receives every line the server writes. @defaultValue lines are dropped (the last ones go into errors) */
  output?: (line: string) => void;
  /**
   * Run it in a process group of its own, so a Ctrl-C in the terminal reaches only its owner, which
   * stops it in its turn. @defaultValue false
   */
  detached?: boolean;
  /** How long it may take to answer. @defaultValue 10000 */
  readyTimeoutMs?: number;
}

/**
 * A redis-server this process started: loopback only, nothing on disk unless `aof`, stoppable,
 * restartable on the same port, freezable (see {@link RedisProcess} for the chaos controls).
 */
export interface RedisServer extends RedisProcess {
  /** The `redis_version` it reports. */
  readonly version: string;
  /** Its working directory, if it has one. */
  readonly dir: string | undefined;
  /** FLUSHALL: the next user starts from an empty Redis. */
  flush(): Promise<void>;
  /** SIGKILL and wait, then remove the temp dir it created (if any). Idempotent; no restart after it. */
  close(): Promise<void>;
}

/**
 * Starts a private `redis-server` on 127.0.0.1 and resolves once it answers (see {@link RedisProcess}
 * for when that is). Fails with a {@link DevkitError} (`REDIS_SERVER_NOT_FOUND`, `EXITED_BEFORE_READY`,
 * `READY_TIMEOUT`: then it has been killed) whose message ends with the server's last lines.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port > 0)) {
    throw new RangeError(`startRedisServer(): port must be a positive integer, got ${options.port}`);
  }
  const port = options.port ?? (await freePort());
  const ownDir =
    options.dir === undefined && options.aof ? await mkdtemp(join(tmpdir(), 'devkit-redis-')) : undefined;
  const dir = options.dir ?? ownDir;
  const removeOwnDir = async () => {
    if (ownDir !== undefined) await rm(ownDir, { recursive: true, force: true });
  };
  const args = [
    ...(options.configFile === undefined ? [] : [options.configFile]),
    ...['--port', String(port), '--bind', '127.0.0.1', '--save', ''],
    ...['--appendonly', options.aof ? 'yes' : 'no', '--protected-mode', 'no'],
    // A replica syncs at once instead of after the primary's 5 s wait for more replicas.
    ...['--repl-diskless-sync-delay', '0'],
    ...(dir === undefined ? [] : ['--dir', dir]),
    ...(options.args ?? []),
  ];

  let server: RedisProcess;
  try {
    server = await startRedisProcess({
      program: 'redis-server',
      args,
      port,
      output: options.output,
      detached: options.detached,
      readyTimeoutMs: options.readyTimeoutMs ?? 10_000,
    });
  } catch (err) {
    await removeOwnDir();
    throw err;
  }
  let version = 'unknown';
  try {
    const info = await redisCommand(server.url, ['INFO', 'server']);
    version = (typeof info === 'string' && /^redis_version:(.+)$/m.exec(info)?.[1]?.trim()) || 'unknown';
  } catch (err) {
    await server.stop();
    await removeOwnDir();
    throw err;
  }

  // Getters stay on `server` (pid, child, exited, frozen change with each start): extend, don't spread.
  return Object.assign(server, {
    version,
    dir,
    async flush() {
      await redisCommand(server.url, ['FLUSHALL']);
    },
    async close() {
      await server.stop('SIGKILL');
      await removeOwnDir();
    },
  });
}
