import { Writable } from 'node:stream';
import { createKeys, createLogger, decodeIoNodeRecord, type IoNodeRecord } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import { type Cluster, setup } from './support/cluster.js';
import { listed, until } from './support/poll.js';

let cluster: Cluster | undefined;

async function start(options?: Parameters<typeof setup>[0]): Promise<Cluster> {
  cluster = await setup(options);
  return cluster;
}
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

/** Short heartbeats so expiry tests take about a second; the mechanism is the one the defaults use. */
const INTERVAL_MS = 500;
const TTL_MS = 1_500;
const FAST_ENV = { HEARTBEAT_INTERVAL_MS: String(INTERVAL_MS), HEARTBEAT_TTL_MS: String(TTL_MS) };
const FAST = { heartbeatIntervalMs: INTERVAL_MS, heartbeatTtlMs: TTL_MS };

/** The node ids of `count` round-robin picks of `/api/connect`. */
async function picks(frontend: { url: string }, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${frontend.url}/api/connect?strategy=round-robin`);
    expect(res.status).toBe(200);
    ids.push(((await res.json()) as { nodeId: string }).nodeId);
  }
  return ids;
}

/** Resolves with the next record `event` reports for `nodeId`. */
function peerEvent(
  node: { on(event: 'peer-joined' | 'peer-left', fn: (peer: IoNodeRecord) => void): () => void },
  event: 'peer-joined' | 'peer-left',
  nodeId: string,
): Promise<IoNodeRecord> {
  return new Promise((resolve) => {
    const off = node.on(event, (peer) => {
      if (peer.nodeId !== nodeId) return;
      off();
      resolve(peer);
    });
  });
}

describe('registry', () => {
  test('registry - a SIGKILLed io-node leaves /api/io-nodes within its heartbeat TTL plus one interval', async () => {
    const c = await start();
    const frontend = await c.startFrontend({ registryRefreshMs: 100 });
    const child = await c.startChildIoNode(FAST_ENV);
    const [record] = await until(
      () => listed(frontend),
      (nodes) => nodes.length === 1,
      5_000,
    );
    expect(record).toMatchObject({ nodeId: child.nodeId, url: child.url, connections: 0 });

    const killedAt = Date.now();
    await child.kill();
    await until(
      () => listed(frontend),
      (nodes) => nodes.length === 0,
      TTL_MS + INTERVAL_MS + 2_000,
    );
    const elapsed = Date.now() - killedAt;
    expect(elapsed).toBeLessThan(TTL_MS + INTERVAL_MS);
    // (The frontend stops listing it as soon as it refuses connections; see the next test.) Its liveness
    // record expires within the TTL: the member stays, a broadcast target, until it is purged past the
    // inbox retention, and its hash expires on its own.
    const keys = createKeys(c.prefix);
    await until(
      async () => Number(await c.redis.zscore(keys.inboxNodes, child.nodeId)),
      (expiresAt) => expiresAt > 0 && expiresAt <= Date.now(),
      TTL_MS + INTERVAL_MS,
    );
    await until(
      () => c.redis.exists(keys.registryNode(child.nodeId)),
      (n) => n === 0,
      2_000,
    );
  });

  test('registry - /api/connect stops handing out a SIGKILLed io-node at once, long before its record expires', async () => {
    const c = await start();
    // The frontend logs when it first reaches a node: until then, a refusal could not be told apart from
    // a node it cannot reach at all.
    const reached = new Set<string>();
    let onReached = () => {};
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const entry = JSON.parse(line) as { msg?: string; nodeId?: string };
          if (entry.msg === 'io-node reachable' && entry.nodeId) reached.add(entry.nodeId);
        }
        onReached();
        done();
      },
    });
    const frontend = await c.startFrontend({
      registryRefreshMs: 100,
      logger: createLogger({ level: 'debug', destination }),
    });
    // Default heartbeats (2 s / 6 s): the victim's record outlives everything below by seconds.
    const survivor = await c.startIoNode();
    const victim = await c.startChildIoNode();
    await new Promise<void>((resolve) => {
      onReached = () => {
        if (reached.has(victim.nodeId) && reached.has(survivor.nodeId)) resolve();
      };
      onReached();
    });
    const before = await picks(frontend, 4);
    expect(new Set(before)).toEqual(new Set([survivor.nodeId, victim.nodeId]));

    const killedAt = Date.now();
    await victim.kill();
    // Round-robin would hand the victim out every other pick while it is listed.
    await until(
      () => picks(frontend, 4),
      (ids) => ids.every((id) => id === survivor.nodeId),
      3_000,
    );
    expect(Date.now() - killedAt).toBeLessThan(1_500);
    expect((await listed(frontend)).map((n) => n.nodeId)).toEqual([survivor.nodeId]);
    // Its record is still live: the frontend stopped on the refused connection, not on the expiry.
    const keys = createKeys(c.prefix);
    expect(Number(await c.redis.zscore(keys.inboxNodes, victim.nodeId))).toBeGreaterThan(Date.now());
  });

  test('registry - a cleanly stopped io-node is removed at once, in Redis and from /api/io-nodes', async () => {
    const c = await start();
    const frontend = await c.startFrontend({ registryRefreshMs: 5_000 });
    const keys = createKeys(c.prefix);
    // Default heartbeats (2 s / 6 s): anything seen below happens long before an expiry could explain it.
    const child = await c.startChildIoNode();
    const inProcess = await c.startIoNode();
    await until(
      () => listed(frontend),
      (nodes) => nodes.length === 2,
      2_000,
    );

    await child.stop();
    expect(await c.redis.zscore(keys.inboxNodes, child.nodeId)).toBeNull();
    expect(await c.redis.exists(keys.registryNode(child.nodeId))).toBe(0);
    // The leave announcement makes the frontend re-read now rather than at its 5 s poll.
    const left = await until(
      () => listed(frontend),
      (nodes) => nodes.length === 1,
      1_000,
    );
    expect(left.map((n) => n.nodeId)).toEqual([inProcess.nodeId]);

    await inProcess.close();
    expect(await c.redis.zcard(keys.inboxNodes)).toBe(0);
    expect(await c.redis.exists(keys.registryNode(inProcess.nodeId))).toBe(0);
    await until(
      () => listed(frontend),
      (nodes) => nodes.length === 0,
      1_000,
    );
  });

  test('registry - an io-node restarted on the same URL is listed once, under its new id', async () => {
    const c = await start();
    const frontend = await c.startFrontend({ registryRefreshMs: 100 });
    const keys = createKeys(c.prefix);
    // Default TTL (6 s): the old record would outlive this test unless the new node replaced it.
    const first = await c.startChildIoNode();
    await first.kill();
    const second = await c.startChildIoNode({ IO_NODE_PORT: String(first.port) });
    expect(second.url).toBe(first.url);
    expect(second.nodeId).not.toBe(first.nodeId);

    // The first node's record expired when the second took its URL: only the second is live.
    expect(await c.redis.zrangebyscore(keys.inboxNodes, `(${Date.now()}`, '+inf')).toEqual([second.nodeId]);
    expect(await c.redis.exists(keys.registryNode(first.nodeId))).toBe(0);
    const nodes = await until(
      () => listed(frontend),
      (list) => list.some((n) => n.nodeId === second.nodeId),
      2_000,
    );
    expect(nodes.map((n) => [n.nodeId, n.url])).toEqual([[second.nodeId, first.url]]);
  });

  test('registry - peer-joined and peer-left fire on io-nodes, and peers counts the others', async () => {
    const c = await start({ ioNodeOptions: FAST });
    const a = await c.startIoNode();
    await a.ready;
    expect(a.peers).toBe(0);

    const joinedLog: string[] = [];
    const unsubscribe = a.on('peer-joined', (peer) => joinedLog.push(peer.nodeId));
    const bJoined = peerEvent(a, 'peer-joined', 'b');
    const b = await c.startIoNode({ nodeId: 'b' });
    expect(await bJoined).toMatchObject({ nodeId: 'b', url: b.url, connections: 0 });
    expect(a.peers).toBe(1);
    expect(b.peers).toBe(1);

    const child = await c.startChildIoNode(FAST_ENV);
    const childJoined = await until(
      async () => a.peers,
      (n) => n === 2,
      2_000,
    );
    expect(childJoined).toBe(2);
    expect(joinedLog).toEqual(['b', child.nodeId]);
    unsubscribe();

    // A crashed peer: no announcement, its record expires.
    const childLeft = peerEvent(a, 'peer-left', child.nodeId);
    const killedAt = Date.now();
    await child.kill();
    expect(await childLeft).toMatchObject({ nodeId: child.nodeId, url: child.url });
    expect(Date.now() - killedAt).toBeLessThan(TTL_MS + INTERVAL_MS);

    // A clean leave: announced, so seen before the next poll could.
    const bLeft = peerEvent(a, 'peer-left', 'b');
    await b.close();
    expect(await bLeft).toMatchObject({ nodeId: 'b' });
    expect(a.peers).toBe(0);
    // The unsubscribed listener heard nothing after unsubscribing.
    expect(joinedLog).toEqual(['b', child.nodeId]);
  });

  test('registry - records decode with numbers restored, and malformed ones are refused by field', () => {
    const fields = {
      nodeId: 'n1',
      url: 'http://127.0.0.1:3001',
      connections: '3',
      startedAt: '1700000000000',
      version: '0.1.0',
      lastSeen: '1700000001000',
    };
    expect(decodeIoNodeRecord(fields)).toEqual({
      nodeId: 'n1',
      url: 'http://127.0.0.1:3001',
      connections: 3,
      startedAt: 1_700_000_000_000,
      version: '0.1.0',
      lastSeen: 1_700_000_001_000,
      // Absent in the hash (a record from before the field existed): 0.
      eventsPerSecond: 0,
    });
    expect(decodeIoNodeRecord({ ...fields, eventsPerSecond: '2.5' }).eventsPerSecond).toBe(2.5);
    expect(() => decodeIoNodeRecord({ ...fields, eventsPerSecond: '-1' })).toThrow(/"eventsPerSecond"/);
    expect(() => decodeIoNodeRecord({ ...fields, connections: '-1' })).toThrow(/"connections"/);
    expect(() => decodeIoNodeRecord({ ...fields, url: 'not a url' })).toThrow(/"url"/);
    expect(() => decodeIoNodeRecord({ ...fields, nodeId: '' })).toThrow(/"nodeId"/);
    expect(() => decodeIoNodeRecord({ ...fields, lastSeen: '1.5' })).toThrow(/"lastSeen"/);
    expect(() => decodeIoNodeRecord(null)).toThrow(/object/);
  });
});
