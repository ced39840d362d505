import { createKeys, type RedisConnection } from '@iocluster/shared';
import fc from 'fast-check';

/**
 * Puts a raw payload on the command path of io-node `nodeId` (or of every io-node when null), bypassing
 * every encoder: the one place that knows how commands travel, so the fuzz test follows the transport
 * when it changes (per-io-node Redis Stream inboxes).
 */
export async function injectRawCommand(
  redis: RedisConnection,
  prefix: string,
  nodeId: string | null,
  payload: string,
): Promise<void> {
  const keys = createKeys(prefix);
  // Commands travel in io-node inboxes: appended as app-nodes do, to one node or to every live one.
  const nodes =
    nodeId === null ? await redis.zrangebyscore(keys.inboxNodes, `(${Date.now()}`, '+inf') : [nodeId];
  await Promise.all(nodes.map((id) => redis.xadd(keys.inbox(id), 'NOMKSTREAM', '*', 'c', payload)));
}

/** Nested arrays `depth` deep around a leaf, as JSON text (no recursion, any depth). */
export function nestedJson(depth: number): string {
  return `${'['.repeat(depth)}"leaf"${']'.repeat(depth)}`;
}

const POLLUTING = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '$iocb'];
const RESERVED = [
  'connection',
  'connect',
  'disconnect',
  'disconnecting',
  'no-client',
  'error',
  '$subscribe',
  '$publish',
  '$unsubscribe',
  '$token:refresh',
  '$message',
  '$error',
  '$x',
];

/**
 * Malformed Engine.IO / Socket.IO text frames for a socket connected to namespace `/`: bad JSON, wrong
 * types, deep nesting, binary placeholders without their attachments, reserved and prototype-polluting
 * names, unknown packet types, acks nobody asked for. Deterministic for a given seed.
 */
export function hostileFrames(count: number, seed: number): string[] {
  const name = fc.oneof(fc.constantFrom(...POLLUTING, ...RESERVED), fc.string({ maxLength: 300 }));
  const pollutingObject = fc
    .constantFrom(...POLLUTING)
    .map((key) => `{"${key}":{"polluted":true,"__proto__":{"polluted":true}}}`);
  const value = fc.oneof(
    fc.json({ maxDepth: 3 }),
    pollutingObject,
    fc.integer({ min: 1, max: 20_000 }).map(nestedJson),
    fc.constantFrom(
      '{"_placeholder":true,"num":0}',
      '{"_placeholder":true,"num":99}',
      '{"_placeholder":"x"}',
    ),
  );
  const frame = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ maxLength: 50 }).map((s) => `42${s}`),
    fc.tuple(name, value).map(([n, v]) => `42[${JSON.stringify(n)},${v}]`),
    fc.tuple(fc.nat(), name, value).map(([id, n, v]) => `42${id}[${JSON.stringify(n)},${v}]`),
    value.map((v) => `42${v}`),
    fc.tuple(fc.nat(), value).map(([id, v]) => `43${id}[${v}]`),
    fc
      .tuple(fc.integer({ min: 0, max: 1_000_000 }), name)
      .map(([n, e]) => `45${n}-[${JSON.stringify(e)},{"_placeholder":true,"num":0}]`),
    fc.constantFrom(
      '4',
      '40',
      '41',
      '44{"message":"x"}',
      '46',
      '47',
      '49',
      '4/admin,',
      '40/nope,{}',
      '2',
      '3',
      '5',
      '6',
      '9',
      '',
      '2probe',
      '1',
    ),
  );
  return fc.sample(frame, { numRuns: count, seed });
}
