import { type Env, read } from './config-env.js';
import {
  type JwtAlgorithm,
  PORT_PLACEHOLDER,
  SETTINGS,
  type Setting,
  type SettingRow,
  type Tier,
} from './config-table.js';
import { ConfigError } from './errors.js';
import type { RedisTarget } from './redis.js';
import type { ReplicaWait } from './replica-wait.js';
import { deadlineMarginMs } from './wire/ingress.js';

/**
 * Settings from the environment, each process reading only its tier's rows of the table
 * (`config-table.ts`) and the cluster-wide ones: an app-node never looks at an io-node's key file.
 */

/**
 * Set by a worker supervisor (worker-supervisor.ts) on the processes it forks: the worker's index. A
 * process that has it runs one node and never supervises.
 */
export const WORKER_INDEX_VAR = 'IOCLUSTER_WORKER_INDEX';
export { PORT_PLACEHOLDER };

/** JWT verification of client handshakes; `undefined` in the io-node's settings when no key is set. */
export interface JwtAuthConfig {
  readonly secret: string | undefined;
  /** Contents of the file named by `AUTH_JWT_PUBLIC_KEY_FILE`. */
  readonly publicKeyPem: string | undefined;
  readonly jwksUrl: string | undefined;
  readonly issuer: string | undefined;
  readonly audience: readonly string[] | undefined;
  readonly algorithms: readonly JwtAlgorithm[] | undefined;
  readonly expiryNoticeMs: number;
}

/** Which rooms keep history, and how much (`HISTORY_*`): app-nodes and the frontend's HTTP API. */
export interface HistorySettings {
  readonly rooms: readonly string[];
  readonly maxLength: number;
  readonly ttlMs: number;
}

type RowsOf<T extends Tier> = Extract<SettingRow, { tier: 'cluster' | T }>;
type ValueOf<R> = R extends Setting<infer V> ? V : never;
type PlainRows<T extends Tier> = Extract<RowsOf<T>, { scope: 'option' | 'process' }>;

/** The values of a tier's plain rows, by option name. */
export type TierValues<T extends Tier> = {
  readonly [R in PlainRows<T> as R['option']]: R extends { required: true }
    ? ValueOf<R>
    : ValueOf<R> | undefined;
};
interface Composites {
  cluster: {
    readonly redis: RedisTarget;
    readonly replicaWait: ReplicaWait;
    readonly history: HistorySettings;
  };
  'io-node': { readonly jwt: JwtAuthConfig | undefined };
  'app-node': unknown;
  frontend: unknown;
  example: unknown;
}
/**
 * What one tier's process reads: every option of its `create*` that has a variable, under the option's
 * name (spread them into the options), and its process settings (`logLevel`, `workers`...).
 */
export type Settings<T extends Tier> = TierValues<T> & Composites['cluster'] & Composites[T];

/** A check across rows, run when every variable it names is among the rows read. */
interface Relation {
  readonly vars: readonly string[];
  /** The sentence that refuses the combination, or undefined when it is fine. */
  check(value: (name: string) => unknown): string | undefined;
}

const AUTH_KEYS = ['AUTH_JWT_SECRET', 'AUTH_JWT_PUBLIC_KEY_FILE', 'AUTH_JWT_JWKS_URL'];

const RELATIONS: readonly Relation[] = [
  {
    vars: ['REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'],
    check: (v) =>
      v('REDIS_CLUSTER_NODES') && v('REDIS_SENTINELS')
        ? 'set REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both'
        : undefined,
  },
  {
    vars: ['REDIS_SENTINELS', 'REDIS_SENTINEL_NAME'],
    check: (v) =>
      v('REDIS_SENTINELS') && !v('REDIS_SENTINEL_NAME')
        ? 'REDIS_SENTINEL_NAME is required with REDIS_SENTINELS'
        : undefined,
  },
  {
    vars: ['HEARTBEAT_INTERVAL_MS', 'HEARTBEAT_TTL_MS'],
    check: (v) => {
      const [interval, ttl] = [v('HEARTBEAT_INTERVAL_MS') as number, v('HEARTBEAT_TTL_MS') as number];
      return ttl <= interval
        ? `HEARTBEAT_TTL_MS (${ttl}) must be larger than HEARTBEAT_INTERVAL_MS (${interval})`
        : undefined;
    },
  },
  {
    vars: ['IO_NODE_PORT', 'IO_NODE_WORKERS'],
    check: (v) => {
      const [port, workers] = [v('IO_NODE_PORT') as number, v('IO_NODE_WORKERS') as number];
      return port !== 0 && port + workers - 1 > 65535
        ? `IO_NODE_PORT (${port}) + IO_NODE_WORKERS (${workers}) - 1 must be at most 65535: worker i listens on IO_NODE_PORT + i`
        : undefined;
    },
  },
  {
    vars: ['WEBHOOK_URL', 'WEBHOOK_SECRET'],
    check: (v) =>
      v('WEBHOOK_URL') !== undefined && v('WEBHOOK_SECRET') === undefined
        ? 'WEBHOOK_SECRET is required with WEBHOOK_URL: every webhook is signed'
        : undefined,
  },
  {
    vars: AUTH_KEYS,
    check: (v) =>
      AUTH_KEYS.filter((name) => v(name) !== undefined).length > 1
        ? `set one of ${AUTH_KEYS.join(', ')}`
        : undefined,
  },
  {
    vars: ['HANDLER_TIMEOUT_MS', 'EVENT_TIMEOUT_MS'],
    check: (v) => {
      const [handler, event] = [v('HANDLER_TIMEOUT_MS') as number, v('EVENT_TIMEOUT_MS') as number];
      const margin = deadlineMarginMs(event);
      return handler >= event - margin
        ? `HANDLER_TIMEOUT_MS (${handler}) must be less than EVENT_TIMEOUT_MS (${event}) minus its ${margin} ms margin: an io-node gives up on an event after EVENT_TIMEOUT_MS, so the app-node must stop its handler before`
        : undefined;
    },
  },
];

/** The rows a process of these tiers reads: theirs and the cluster-wide ones. */
export function settingsOf(tiers: readonly Tier[]): readonly Setting[] {
  return SETTINGS.filter((row) => row.tier === 'cluster' || tiers.includes(row.tier)) as readonly Setting[];
}

/** A row's default, made now when it is made per process. */
export function defaultOf<V>(row: Setting<V>): V | undefined {
  return typeof row.default === 'function' ? (row.default as () => V)() : row.default;
}

function parseRow(row: Setting, env: Env): unknown {
  const raw = read(env, row.env);
  if (raw === undefined) return defaultOf(row);
  const parsed = row.kind.env.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const detail = issue?.code === 'custom' && issue.params?.detail ? ` (${issue.message})` : '';
  throw new ConfigError(
    row.secret
      ? `${row.env} must ${row.kind.expects}`
      : `${row.env} must ${row.kind.expects}, got "${raw}"${detail}`,
  );
}

/** Parses the rows and checks the relations among them; throws a ConfigError naming the variable(s). */
function parseRows(rows: readonly Setting[], env: Env): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const row of rows) values.set(row.env, parseRow(row, env));
  for (const relation of RELATIONS) {
    if (!relation.vars.every((name) => values.has(name))) continue;
    const refusal = relation.check((name) => values.get(name));
    if (refusal) throw new ConfigError(refusal);
  }
  return values;
}

function redisTarget(values: Map<string, unknown>): RedisTarget {
  const password = values.get('REDIS_PASSWORD') as string | undefined;
  const cluster = values.get('REDIS_CLUSTER_NODES') as { host: string; port: number }[] | undefined;
  if (cluster) return { kind: 'cluster', nodes: cluster, password };
  const sentinels = values.get('REDIS_SENTINELS') as { host: string; port: number }[] | undefined;
  if (sentinels) {
    return { kind: 'sentinel', sentinels, name: values.get('REDIS_SENTINEL_NAME') as string, password };
  }
  return { kind: 'standalone', url: values.get('REDIS_URL') as string };
}

/** Builds the settings object: plain rows by option name, parts into their composite option. */
function assemble(rows: readonly Setting[], values: Map<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const row of rows) {
    const value = values.get(row.env);
    if (row.scope !== 'part') out[row.option] = value;
    else if (row.option.includes('.')) {
      const [owner, field] = row.option.split('.') as [string, string];
      out[owner] = { ...(out[owner] as object | undefined), [field]: value };
    }
  }
  out.redis = redisTarget(values);
  if (out.jwt !== undefined) {
    const jwt = out.jwt as JwtAuthConfig;
    const keyed = jwt.secret !== undefined || jwt.publicKeyPem !== undefined || jwt.jwksUrl !== undefined;
    out.jwt = keyed ? jwt : undefined;
  }
  if (out.history !== undefined) {
    const history = out.history as HistorySettings;
    out.history = { ...history, rooms: history.rooms ?? Object.freeze([]) };
  }
  return out;
}

/**
 * Parses and validates the settings of one tier's process, and only those (plus the cluster-wide ones);
 * throws a {@link ConfigError} naming the bad variable. The result is frozen.
 */
export function loadSettings<T extends Tier>(tier: T, env: Env = process.env): Settings<T> {
  const rows = settingsOf([tier]);
  return deepFreeze(assemble(rows, parseRows(rows, env))) as Settings<T>;
}

/**
 * Validates the settings of several tiers at once, with the checks that need two of them (a handler
 * timeout against the io-nodes' event timeout): for a process that starts the others with its
 * environment, so it refuses a combination before any of them runs.
 */
export function checkSettings(tiers: readonly Tier[], env: Env = process.env): void {
  parseRows(settingsOf(tiers), env);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
