import { existsSync, type FSWatcher, statSync, watch } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import {
  DevkitError,
  type ForkedProcess,
  forkProcess,
  type RedisServer,
  redisReachable,
  startRedisServer,
} from '@iocluster/devkit';
import { type PageBundle, watchPageBundle } from './page-bundle.js';
import { type Tier, tierMain, tsxLoader } from './tiers.js';

/** Options of {@link startDevStack}. */
export interface DevStackOptions {
  /** The handlers module (JavaScript or TypeScript) that default-exports `register(app)`. */
  handlers: string;
  /** Frontend port; 0 picks a free one. @defaultValue 3000 */
  port?: number;
  /** Interface everything listens on. @defaultValue '127.0.0.1' */
  host?: string;
  /** Pages the frontend serves. @defaultValue `./public` when it exists, else none */
  staticDir?: string;
  /**
   * A page script bundled (with its imports: `@iocluster/client`, your event maps) into `app.js` of
   * `staticDir`, rebuilt on change. @defaultValue `./src/page.ts` when it and `staticDir` exist, else none
   */
  page?: string;
  /** @defaultValue 1 */
  ioNodes?: number;
  /** @defaultValue 1 */
  appNodes?: number;
  /**
   * Redis to use; when none answers there, a local `redis-server` on a free port is started (and
   * stopped with the stack). @defaultValue 'redis://127.0.0.1:6379'
   */
  redisUrl?: string;
  /** `IOCLUSTER_PREFIX` of every process. @defaultValue 'iocluster' */
  prefix?: string;
  /** Restart the app-nodes when a file beside the handlers module changes. @defaultValue true */
  watch?: boolean;
  /** Extra environment for every process. @defaultValue {} */
  env?: Record<string, string>;
  /** Receives every output line of every process, and the stack's own notes (name `dev`). @defaultValue dropped */
  output?: (name: string, line: string) => void;
  /** How long each process may take to get ready. @defaultValue 30000 */
  readyTimeoutMs?: number;
}

/** A running development stack. */
export interface DevStack {
  /** The page to open. */
  readonly frontendUrl: string;
  readonly redisUrl: string;
  /** Set when the stack started its own redis-server. */
  readonly redis: RedisServer | undefined;
  /** How many times the app-nodes were restarted for a change. */
  readonly reloads: number;
  /** Stops every process it started (frontend, io-nodes, app-nodes, redis). Idempotent. */
  stop(): Promise<void>;
}

/** Changes closer together than this make one restart. */
const RELOAD_DEBOUNCE_MS = 150;
const IGNORED = /(^|[\\/])(node_modules|dist|\.git)([\\/]|$)/;

/**
 * Runs a whole cluster for one handlers module on this machine: Redis (the one at `redisUrl`, or a
 * redis-server of its own), io-nodes, app-nodes running the module through tsx, and a frontend serving
 * the project's pages. On a change beside the module, new app-nodes start and the old ones drain: a
 * module that fails to load leaves the running ones in place.
 */
export async function startDevStack(options: DevStackOptions): Promise<DevStack> {
  const handlers = resolve(options.handlers);
  if (!existsSync(handlers)) throw new Error(`handlers module not found: ${handlers}`);
  const host = options.host ?? '127.0.0.1';
  const output = options.output ?? (() => {});
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const staticDir = options.staticDir ?? (existsSync('public') ? 'public' : undefined);
  const page =
    options.page ?? (staticDir !== undefined && existsSync('src/page.ts') ? 'src/page.ts' : undefined);
  if (page !== undefined && staticDir === undefined)
    throw new Error('a page needs a directory to serve it from');
  const processes = new Set<ForkedProcess>();
  let redis: RedisServer | undefined;
  let watcher: FSWatcher | undefined;
  let bundle: PageBundle | undefined;
  let stopping: Promise<void> | undefined;
  let reloads = 0;
  const common: Record<string, string> = {};

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      watcher?.close();
      await bundle?.close();
      for (const tier of ['frontend', 'io-node', 'app-node']) {
        const group = [...processes].filter((p) => p.label.startsWith(tier));
        await Promise.all(group.map((p) => p.stop(10_000)));
      }
      await redis?.close();
    })();
    return stopping;
  };

  const fork = async (tier: Tier, label: string, env: Record<string, string>, args: string[] = []) => {
    const forked = await forkProcess({
      label,
      module: tierMain(tier),
      args,
      env: { ...common, ...options.env, ...env },
      execArgv: tier === 'app-node' ? ['--import', tsxLoader()] : [],
      // Its own process group: a Ctrl-C reaches the CLI only, which stops everything in order.
      detached: true,
      output: (line) => output(label, line),
      readyTimeoutMs,
    });
    processes.add(forked);
    void forked.exited.then(() => processes.delete(forked));
    return forked;
  };

  let redisUrl = options.redisUrl ?? 'redis://127.0.0.1:6379';
  try {
    if (!(await redisReachable(redisUrl))) {
      redis = await startRedisServer({
        args: ['--loglevel', 'warning'],
        detached: true,
        output: (line) => output('redis', line),
      }).catch((err: unknown) => {
        if (err instanceof DevkitError && err.code === 'REDIS_SERVER_NOT_FOUND') {
          throw new Error(`no Redis answers at ${redisUrl} and ${err.message}, or set REDIS_URL`, {
            cause: err,
          });
        }
        throw err;
      });
      output('dev', `no Redis answered at ${redisUrl}: started redis-server at ${redis.url}`);
      redisUrl = redis.url;
    }
    Object.assign(common, { REDIS_URL: redisUrl, IOCLUSTER_PREFIX: options.prefix ?? 'iocluster' });

    const ioNodes = options.ioNodes ?? 1;
    for (let i = 1; i <= ioNodes; i++) {
      await fork('io-node', `io-node-${i}`, { IO_NODE_HOST: host, IO_NODE_PORT: '0' });
    }
    let generation = 0;
    const startAppNodes = async (): Promise<ForkedProcess[]> => {
      generation++;
      const started: ForkedProcess[] = [];
      try {
        for (let i = 1; i <= (options.appNodes ?? 1); i++) {
          started.push(await fork('app-node', `app-node-${i}.${generation}`, {}, [handlers]));
        }
      } catch (err) {
        await Promise.all(started.map((p) => p.stop()));
        throw err;
      }
      return started;
    };
    let appNodes = await startAppNodes();
    if (page !== undefined && staticDir !== undefined) {
      bundle = await watchPageBundle(resolve(page), resolve(join(staticDir, 'app.js')), (line) =>
        output('dev', line),
      );
    }
    const frontend = await fork('frontend', 'frontend', {
      FRONTEND_HOST: host,
      FRONTEND_PORT: String(options.port ?? 3000),
      ...(staticDir === undefined ? {} : { FRONTEND_STATIC_DIR: resolve(staticDir) }),
    });

    if (options.watch ?? true) {
      let timer: NodeJS.Timeout | undefined;
      let reloading = Promise.resolve();
      const reload = () => {
        reloading = reloading.then(async () => {
          if (stopping) return;
          try {
            const next = await startAppNodes();
            const previous = appNodes;
            appNodes = next;
            await Promise.all(previous.map((p) => p.stop()));
            reloads++;
            output('dev', `handlers reloaded (${reloads})`);
          } catch (err) {
            output('dev', `handlers failed to load; the previous ones keep running: ${String(err)}`);
          }
        });
      };
      const root = statSync(handlers).isDirectory() ? handlers : dirname(handlers);
      watcher = watch(root, { recursive: true }, (_event, file) => {
        if (file && IGNORED.test(file)) return;
        clearTimeout(timer);
        timer = setTimeout(reload, RELOAD_DEBOUNCE_MS);
      });
    }

    return {
      frontendUrl: `http://${host}:${String(frontend.ready.port)}`,
      redisUrl,
      redis,
      get reloads() {
        return reloads;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
