import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kind } from './config-env.js';

/**
 * Who reads a setting: `cluster` every process (and every process of a deployment must agree on it),
 * the others only that tier's processes; `example` only the chat example's launcher.
 */
export type Tier = 'cluster' | 'io-node' | 'app-node' | 'frontend' | 'example';
export const TIERS: readonly Tier[] = ['cluster', 'io-node', 'app-node', 'frontend', 'example'];

/**
 * What a row feeds: an option of the tier's `create*` (same name), a process setting main.ts reads
 * itself, or one field of a composite option (`redis`, `replicaWait`, `jwt`, `history`).
 */
export type Scope = 'option' | 'process' | 'part';

/** One setting: the single place its variable, option, type, default, bounds, tier and doc are written. */
export interface Setting<V = unknown> {
  readonly env: string;
  readonly option: string;
  readonly tier: Tier;
  readonly scope: Scope;
  readonly kind: Kind<V>;
  /** The value when unset: a value, one made per process, or undefined (unset stays unset). */
  readonly default: V | (() => V) | undefined;
  /** How the docs show a default made per process. */
  readonly shownDefault?: string;
  /** Never echoed in an error message. */
  readonly secret?: boolean;
  readonly doc: string;
}

type Row<
  E extends string,
  O extends string,
  T extends Tier,
  S extends Scope,
  V,
  R extends boolean,
> = Setting<V> & {
  readonly env: E;
  readonly option: O;
  readonly tier: T;
  readonly scope: S;
  /** Whether the value is always there (it has a default). */
  readonly required: R;
};

/** A setting with a default: always has a value. */
export function setting<
  const E extends string,
  const O extends string,
  const T extends Tier,
  const S extends Scope,
  V,
>(
  row: Omit<Setting<V>, 'default'> & {
    env: E;
    option: O;
    tier: T;
    scope: S;
    default: NoInfer<V> | (() => NoInfer<V>);
  },
): Row<E, O, T, S, V, true> {
  return { ...row, required: true };
}

/** A setting that stays undefined when unset. */
export function optional<
  const E extends string,
  const O extends string,
  const T extends Tier,
  const S extends Scope,
  V,
>(row: Omit<Setting<V>, 'default'> & { env: E; option: O; tier: T; scope: S }): Row<E, O, T, S, V, false> {
  return { ...row, default: undefined, required: false };
}

/** JWS algorithms io-nodes accept for client tokens. */
export const JWT_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];
export const BALANCE_STRATEGIES = ['fewest-connections', 'random', 'round-robin'] as const;
export type BalanceStrategy = (typeof BALANCE_STRATEGIES)[number];
/** Socket.IO packet encoding between clients and io-nodes; both sides must use the same one. */
export const SOCKETIO_PARSERS = ['default', 'msgpack'] as const;
export type SocketIoParser = (typeof SOCKETIO_PARSERS)[number];
/** What `{port}` in `IO_NODE_PUBLIC_URL` stands for: the port the io-node listens on. */
export const PORT_PLACEHOLDER = '{port}';

/** A default node id made per process: `<prefix><hostname>-<6 hex digits>`, so a restart is a new node. */
export function hostId(prefix: string): () => string {
  return () => `${prefix}${hostname()}-${randomBytes(3).toString('hex')}`;
}
