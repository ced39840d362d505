import type { AppNode } from '@iocluster/app-node';
import { startTcpProxy, type TcpProxy } from '@iocluster/devkit';
import {
  createKeys,
  createPresenceStore,
  createRedis,
  INGRESS_VERSION,
  type IngressJob,
  type PresenceChange,
  type PresenceMember,
  type RedisConnection,
} from '@iocluster/shared';
import { io as connectClient, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { authenticateByAuthUser } from './fixtures/authenticate.js';
import { type Cluster, collect, deleteKeys, setup } from './support/cluster.js';
import { injectRawJobs } from './support/ingress.js';
import { until } from './support/poll.js';

let cluster: Cluster | undefined;
let proxy: TcpProxy | undefined;
const extraClients: Socket[] = [];
const extraRedis: RedisConnection[] = [];
afterEach(async () => {
  for (const socket of extraClients.splice(0)) socket.disconnect();
  await cluster?.cleanup();
  await proxy?.close();
  proxy = undefined;
  await Promise.all(extraRedis.splice(0).map((r) => r.quit()));
  cluster = undefined;
});

/** Heartbeats short enough for a test, long enough for a loaded 2-core machine. */
const HEARTBEAT = { heartbeatIntervalMs: 1_000, heartbeatTtlMs: 3_000 };
const CHILD_HEARTBEAT = { HEARTBEAT_INTERVAL_MS: '1000', HEARTBEAT_TTL_MS: '3000' };
const AUTH_IO_NODE = 'test/fixtures/auth-io-node.ts';

type PresencePayload = { room: string; joined?: { id: string }; left?: { id: string } };

/** Presence handlers the tests drive, and every change the `presence` hooks saw (all app-nodes). */
function presenceApp(hooks: PresenceChange[]) {
  return (app: AppNode) => {
    app.on('presence', (change) => {
      hooks.push(change);
    });
    app.on('pjoin', async (socket, room: string, meta: Record<string, unknown>) => {
      await socket.join(room, { presence: meta });
      return socket.memberId;
    });
    app.on('plain join', async (socket, room: string) => {
      await socket.join(room);
      return true;
    });
    app.on('pleave', async (socket, room: string) => {
      await socket.leave(room);
      return true;
    });
    app.on('roster', (_socket, room: string) => app.presence(room));
    app.on('count', (_socket, room: string) => app.presenceCount(room));
    app.on('room only', (_socket, room: string, payload: unknown) => {
      app.to(room).emit('room', payload);
      return true;
    });
  };
}

async function connectTo(url: string, auth: Record<string, unknown> = {}): Promise<Socket> {
  const socket = connectClient(url, { transports: ['websocket'], reconnection: false, auth });
  extraClients.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

/** Pairs sorted by their first item. */
const byId = <T extends readonly [string, ...unknown[]]>(pairs: T[]) =>
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : 1));

/** Member ids of a roster with their connection counts, sorted. */
const shape = (roster: PresenceMember[]) => byId(roster.map((m) => [m.id, m.connections.length] as const));

/** How often each member id appears in `left` (or `joined`) payloads. */
function tally(items: PresencePayload[], kind: 'joined' | 'left'): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const id = item[kind]?.id;
    if (id !== undefined) counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

/** A room emit every socket receives after whatever the app-nodes published to it before. */
async function roundTrip(from: Socket, room: string, sockets: Socket[]): Promise<void> {
  const marker = `marker-${Math.random()}`;
  const got = sockets.map(
    (s) =>
      new Promise<void>((resolve) => {
        const on = (payload: unknown) => {
          if (payload !== marker) return;
          s.off('room', on);
          resolve();
        };
        s.on('room', on);
      }),
  );
  await from.emitWithAck('room only', room, marker);
  await Promise.all(got);
}

describe('presence', () => {
  test('presence - 20 members in 4 rooms on 2 io-nodes: a SIGKILLed node’s members each get exactly one left within 10 s, rosters exact', async () => {
    const hooks: PresenceChange[] = [];
    cluster = await setup({ appNodes: 2, register: presenceApp(hooks), ioNodeOptions: HEARTBEAT });
    const c = cluster;
    const survivor = await c.startIoNode();
    const doomed = await c.startChildIoNode(CHILD_HEARTBEAT);
    // Member i is in room r(i % 4), on the doomed node when floor(i / 4) is odd: 3 survivors and 2 doomed
    // members per room.
    const members = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const onDoomed = Math.floor(i / 4) % 2 === 1;
        const socket = onDoomed ? await connectTo(doomed.url) : await c.connect(0);
        return { i, socket, id: socket.id!, room: `r${i % 4}`, onDoomed };
      }),
    );
    const events = new Map(members.map((m) => [m.id, collect<PresencePayload>(m.socket, 'presence')]));
    for (const m of members) expect(await m.socket.emitWithAck('pjoin', m.room, { n: m.i })).toBe(m.id);
    const rooms = ['r0', 'r1', 'r2', 'r3'];
    for (const room of rooms) {
      await until(
        () => c.appNodes[0]!.presenceCount(room),
        (n) => n === 5,
        10_000,
      );
    }
    // Every member's join was announced once, to the app-nodes' hooks.
    await until(
      async () => hooks.length,
      (n) => n >= 20,
      10_000,
    );
    expect(hooks.map((h) => `${h.type} ${h.room} ${h.memberId}`).sort()).toEqual(
      members.map((m) => `joined ${m.room} ${m.id}`).sort(),
    );
    const roster = await c.appNodes[0]!.presence('r1');
    expect(roster.map((m) => m.id).sort()).toEqual(
      members
        .filter((m) => m.room === 'r1')
        .map((m) => m.id)
        .sort(),
    );
    const first = members.find((m) => m.room === 'r1')!;
    expect(roster.find((m) => m.id === first.id)).toEqual({
      id: first.id,
      meta: { n: first.i },
      connections: [
        {
          socketId: first.id,
          nodeId: first.onDoomed ? doomed.nodeId : survivor.nodeId,
          meta: { n: first.i },
          joinedAt: expect.any(Number),
        },
      ],
    });

    const survivors = members.filter((m) => !m.onDoomed);
    const dead = members.filter((m) => m.onDoomed);
    const killedAt = Date.now();
    await doomed.kill();
    // Every survivor hears of each dead member of its room leaving.
    await Promise.all(
      survivors.map(async (s) => {
        const expected = dead.filter((d) => d.room === s.room).map((d) => d.id);
        await until(
          async () => tally(events.get(s.id)!.items, 'left'),
          (counts) => expected.every((id) => counts[id] !== undefined),
          15_000,
        );
      }),
    );
    const elapsed = Date.now() - killedAt;
    expect(elapsed).toBeLessThan(10_000);
    for (const room of rooms) {
      const inRoom = survivors.filter((s) => s.room === room);
      expect(shape(await c.appNodes[1]!.presence(room))).toEqual(byId(inRoom.map((s) => [s.id, 1] as const)));
      expect(await c.appNodes[1]!.presenceCount(room)).toBe(3);
      // Anything else the app-nodes published to the room reached its members before this marker.
      await roundTrip(
        inRoom[0]!.socket,
        room,
        inRoom.map((s) => s.socket),
      );
    }
    for (const s of survivors) {
      const expected = Object.fromEntries(dead.filter((d) => d.room === s.room).map((d) => [d.id, 1]));
      expect(tally(events.get(s.id)!.items, 'left')).toEqual(expected);
    }
    const lefts = hooks.filter((h) => h.type === 'left');
    expect(lefts.map((h) => `${h.room} ${h.memberId} ${h.reason} ${h.nodeId}`).sort()).toEqual(
      dead.map((d) => `${d.room} ${d.id} purge ${doomed.nodeId}`).sort(),
    );
    const keys = createKeys(c.prefix);
    expect(await c.redis.exists(keys.nodePresence(doomed.nodeId))).toBe(0);
    expect(await c.redis.sismember(keys.presenceNodes, doomed.nodeId)).toBe(0);
    expect(survivor.presenceEntries).toBe(12);
  }, 60_000);

  test('presence - one user on two io-nodes is one member with two connections: one joined, no left until the last goes', async () => {
    const hooks: PresenceChange[] = [];
    cluster = await setup({
      ioNodes: 2,
      appNodes: 1,
      register: presenceApp(hooks),
      ioNodeOptions: { authenticate: authenticateByAuthUser },
    });
    const c = cluster;
    const observer = await c.connect(0);
    const seen = collect<PresencePayload>(observer, 'presence');
    await observer.emitWithAck('pjoin', 'r', { name: 'observer' });
    const tabA = await c.connect(0, { auth: { user: 'u1' } });
    const tabB = await c.connect(1, { auth: { user: 'u1' } });
    expect(await tabA.emitWithAck('pjoin', 'r', { tab: 'a' })).toBe('u1');
    await until(
      () => c.appNodes[0]!.presence('r'),
      (r) => r.length === 2,
      10_000,
    );
    expect(await tabB.emitWithAck('pjoin', 'r', { tab: 'b' })).toBe('u1');
    const both = await until(
      () => c.appNodes[0]!.presence('r'),
      (r) => r.find((m) => m.id === 'u1')?.connections.length === 2,
      10_000,
    );
    expect(shape(both)).toEqual(
      byId([
        [observer.id!, 1],
        ['u1', 2],
      ]),
    );
    const u1 = both.find((m) => m.id === 'u1')!;
    expect(u1.meta).toEqual({ tab: 'a' });
    expect(u1.connections.map((k) => [k.socketId, k.nodeId, k.meta])).toEqual([
      [tabA.id, c.ioNodes[0]!.nodeId, { tab: 'a' }],
      [tabB.id, c.ioNodes[1]!.nodeId, { tab: 'b' }],
    ]);
    expect(await observer.emitWithAck('count', 'r')).toBe(2);

    tabA.disconnect();
    await until(
      () => c.appNodes[0]!.presence('r'),
      (r) => r.find((m) => m.id === 'u1')?.connections.length === 1,
      10_000,
    );
    await roundTrip(observer, 'r', [observer, tabB]);
    expect(tally(seen.items, 'joined')).toEqual({ [observer.id!]: 1, u1: 1 });
    expect(tally(seen.items, 'left')).toEqual({});

    tabB.disconnect();
    await until(
      async () => tally(seen.items, 'left'),
      (t) => t.u1 === 1,
      10_000,
    );
    await roundTrip(observer, 'r', [observer]);
    expect(seen.items.filter((e) => e.left)).toEqual([{ room: 'r', left: { tab: 'b', id: 'u1' } }]);
    expect(seen.items.filter((e) => e.joined?.id === 'u1')).toEqual([
      { room: 'r', joined: { tab: 'a', id: 'u1' } },
    ]);
    expect(hooks.map((h) => `${h.type} ${h.memberId} ${h.reason}`)).toEqual([
      `joined ${observer.id} join`,
      'joined u1 join',
      'left u1 disconnect',
    ]);
    expect(await c.appNodes[0]!.presenceCount('r')).toBe(1);
  });

  test('presence - a user whose io-node is SIGKILLed and who reconnects to another stays one member: no left, no second joined', async () => {
    const hooks: PresenceChange[] = [];
    cluster = await setup({
      appNodes: 1,
      register: presenceApp(hooks),
      ioNodeOptions: { ...HEARTBEAT, authenticate: authenticateByAuthUser },
    });
    const c = cluster;
    await c.startIoNode();
    const doomed = await c.startChildIoNode(CHILD_HEARTBEAT, AUTH_IO_NODE);
    const observer = await c.connect(0);
    const seen = collect<PresencePayload>(observer, 'presence');
    await observer.emitWithAck('pjoin', 'r', {});
    const before = await connectTo(doomed.url, { user: 'u2' });
    expect(await before.emitWithAck('pjoin', 'r', { tab: 'old' })).toBe('u2');
    await until(
      async () => tally(seen.items, 'joined'),
      (t) => t.u2 === 1,
      10_000,
    );
    await doomed.kill();
    const after = await c.connect(0, { auth: { user: 'u2' } });
    await after.emitWithAck('pjoin', 'r', { tab: 'new' });
    // The dead node's connection goes once a survivor purges it; the member stays throughout.
    const roster = await until(
      () => c.appNodes[0]!.presence('r'),
      (r) => r.find((m) => m.id === 'u2')?.connections.length === 1 && r.length === 2,
      15_000,
    );
    expect(roster.find((m) => m.id === 'u2')!.connections.map((k) => k.socketId)).toEqual([after.id]);
    // The purge clears the node's index after the entries it lists (a roster read can come between).
    await until(
      () => c.redis.exists(createKeys(c.prefix).nodePresence(doomed.nodeId)),
      (n) => n === 0,
      10_000,
    );
    await roundTrip(observer, 'r', [observer, after]);
    expect(tally(seen.items, 'joined')).toEqual({ [observer.id!]: 1, u2: 1 });
    expect(tally(seen.items, 'left')).toEqual({});
    expect(hooks.map((h) => `${h.type} ${h.memberId}`)).toEqual([`joined ${observer.id}`, 'joined u2']);
  }, 60_000);

  test('presence - io-nodes racing to purge the same dead node send each left exactly once', async () => {
    const hooks: PresenceChange[] = [];
    cluster = await setup({ appNodes: 2, register: presenceApp(hooks), ioNodeOptions: HEARTBEAT });
    const c = cluster;
    // Three survivors: each sweeps for dead nodes every heartbeat, so all of them go for the same one.
    for (let i = 0; i < 3; i++) await c.startIoNode();
    // Every survivor sees the expiry and purges the dead node's presence: the race this test is about.
    const purgedBy: string[] = [];
    for (const node of c.ioNodes) node.on('peer-expired', () => purgedBy.push(node.nodeId));
    const doomed = await c.startChildIoNode(CHILD_HEARTBEAT);
    const observers = await Promise.all(c.ioNodes.map((_, i) => c.connect(i)));
    const seen = observers.map((o) => collect<PresencePayload>(o, 'presence'));
    for (const o of observers) {
      await o.emitWithAck('pjoin', 'a', {});
      await o.emitWithAck('pjoin', 'b', {});
    }
    const dead = await Promise.all(Array.from({ length: 6 }, () => connectTo(doomed.url)));
    for (const [i, s] of dead.entries()) await s.emitWithAck('pjoin', i % 2 === 0 ? 'a' : 'b', { i });
    await until(
      async () => hooks.length,
      (n) => n >= 12,
      10_000,
    );
    const deadIds = dead.map((s) => s.id!);
    await doomed.kill();
    await until(
      async () => hooks.filter((h) => h.type === 'left').length,
      (n) => n >= 6,
      15_000,
    );
    for (const room of ['a', 'b']) await roundTrip(observers[0]!, room, observers);
    expect(
      hooks
        .filter((h) => h.type === 'left')
        .map((h) => h.memberId)
        .sort(),
    ).toEqual([...deadIds].sort());
    for (const s of seen)
      expect(tally(s.items, 'left')).toEqual(Object.fromEntries(deadIds.map((id) => [id, 1])));
    await until(
      async () => purgedBy.length,
      (n) => n >= 3,
      10_000,
    );
    expect([...purgedBy].sort()).toEqual(c.ioNodes.map((n) => n.nodeId).sort());
    for (const room of ['a', 'b']) {
      expect(shape(await c.appNodes[0]!.presence(room))).toEqual(
        byId(observers.map((o) => [o.id!, 1] as const)),
      );
    }
  }, 60_000);

  test('presence - an io-node closing cleanly takes its connections off the rosters: one left each, reason disconnect', async () => {
    const hooks: PresenceChange[] = [];
    cluster = await setup({ ioNodes: 2, appNodes: 1, register: presenceApp(hooks) });
    const c = cluster;
    const observer = await c.connect(0);
    const seen = collect<PresencePayload>(observer, 'presence');
    await observer.emitWithAck('pjoin', 'r', {});
    const leaving = await Promise.all([c.connect(1), c.connect(1)]);
    for (const s of leaving) await s.emitWithAck('pjoin', 'r', {});
    await until(
      () => c.appNodes[0]!.presenceCount('r'),
      (n) => n === 3,
      10_000,
    );
    const ids = leaving.map((s) => s.id!);
    const closing = c.ioNodes[1]!;
    await closing.close();
    await until(
      async () => tally(seen.items, 'left'),
      (t) => ids.every((id) => t[id] === 1),
      10_000,
    );
    await roundTrip(observer, 'r', [observer]);
    expect(tally(seen.items, 'left')).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
    expect(shape(await c.appNodes[0]!.presence('r'))).toEqual([[observer.id!, 1]]);
    expect(
      hooks
        .filter((h) => h.type === 'left')
        .map((h) => `${h.memberId} ${h.reason}`)
        .sort(),
    ).toEqual(ids.map((id) => `${id} disconnect`).sort());
    const keys = createKeys(c.prefix);
    expect(await c.redis.exists(keys.nodePresence(closing.nodeId))).toBe(0);
    expect(await c.redis.smembers(keys.presenceNodes)).toEqual([c.ioNodes[0]!.nodeId]);
  });

  test('presence - an io-node purged while cut off from Redis writes its entries again when it is back: joined again', async () => {
    const hooks: PresenceChange[] = [];
    cluster = await setup({ appNodes: 1, register: presenceApp(hooks), ioNodeOptions: HEARTBEAT });
    const c = cluster;
    proxy = await startTcpProxy({ port: Number(new URL(c.redisUrl).port) });
    await c.startIoNode();
    await c.startIoNode({ redis: `redis://127.0.0.1:${proxy.port}` });
    const observer = await c.connect(0);
    const seen = collect<PresencePayload>(observer, 'presence');
    await observer.emitWithAck('pjoin', 'r', {});
    const member = await c.connect(1);
    await member.emitWithAck('pjoin', 'r', { n: 1 });
    const id = member.id!;
    await until(
      async () => tally(seen.items, 'joined'),
      (t) => t[id] === 1,
      10_000,
    );
    proxy.cut();
    // The survivor sees the cut-off node's heartbeat expire and purges it, as if it had died.
    await until(
      async () => tally(seen.items, 'left'),
      (t) => t[id] === 1,
      15_000,
    );
    proxy.restore();
    await until(
      async () => tally(seen.items, 'joined'),
      (t) => t[id] === 2,
      15_000,
    );
    expect(shape(await c.appNodes[0]!.presence('r'))).toEqual(
      byId([
        [observer.id!, 1],
        [id, 1],
      ]),
    );
    expect(hooks.filter((h) => h.memberId === id).map((h) => `${h.type} ${h.reason}`)).toEqual([
      'joined join',
      'left purge',
      'joined join',
    ]);
  }, 60_000);

  test('presence - a presence job run again runs the hooks again but reaches each client once', async () => {
    const hooks: PresenceChange[] = [];
    cluster = await setup({ ioNodes: 2, appNodes: 1, register: presenceApp(hooks) });
    const c = cluster;
    const observers = await Promise.all([c.connect(0), c.connect(1)]);
    for (const o of observers) await o.emitWithAck('plain join', 'r');
    const seen = observers.map((o) => collect<PresencePayload>(o, 'presence'));
    const change: PresenceChange = {
      id: 'io-x.rerun.1',
      type: 'left',
      room: 'r',
      memberId: 'u9',
      meta: { nick: 'zed' },
      socketId: 'gone',
      nodeId: 'io-x',
      reason: 'purge',
    };
    const job: IngressJob = { v: INGRESS_VERSION, nodeId: 'io-x', batches: [], presence: [change] };
    // The same change twice: what an app-node dying after publishing, before completing, leads to.
    for (let run = 1; run <= 2; run++) {
      await injectRawJobs(c, [job]);
      await until(
        async () => hooks.length,
        (n) => n === run,
        10_000,
      );
    }
    await roundTrip(observers[0]!, 'r', observers);
    for (const s of seen) expect(s.items).toEqual([{ room: 'r', left: { nick: 'zed', id: 'u9' } }]);
    expect(hooks).toEqual([change, change]);
  });

  test('presence - removals run concurrently from several connections report each connection once and each last one once', async () => {
    const url = inject('redisUrl');
    const prefix = `tp${Math.random().toString(36).slice(2, 10)}`;
    const keys = createKeys(prefix);
    const connections = Array.from({ length: 5 }, () => createRedis(url, 'command'));
    extraRedis.push(...connections);
    const stores = connections.map((r) => createPresenceStore(r, keys));
    try {
      for (let round = 0; round < 5; round++) {
        // 40 members over 4 rooms, 1-3 connections each on the dead node; every third also has one on a
        // live node, so it must not leave.
        const expectedLefts: string[] = [];
        let deadConnections = 0;
        const writes: Promise<boolean>[] = [];
        for (let m = 0; m < 40; m++) {
          const room = `room-${m % 4}`;
          const memberId = `m${m}`;
          for (let k = 0; k <= m % 3; k++) {
            deadConnections++;
            writes.push(stores[0]!.join(room, `${round}-${m}-${k}`, memberId, 'dead', { k }));
          }
          if (m % 3 === 0) writes.push(stores[1]!.join(room, `${round}-${m}-live`, memberId, 'live', {}));
          else expectedLefts.push(`${room} ${memberId}`);
        }
        await Promise.all(writes);
        const results = await Promise.all(stores.map((store) => store.purgeNode('dead')));
        const all = results.flat();
        expect(all).toHaveLength(deadConnections);
        expect(new Set(all.map((r) => r.connection.socketId)).size).toBe(deadConnections);
        expect(
          all
            .filter((r) => r.last)
            .map((r) => `${r.room} ${r.memberId}`)
            .sort(),
        ).toEqual(expectedLefts.sort());
        for (let room = 0; room < 4; room++) {
          const roster = await stores[2]!.roster(`room-${room}`);
          expect(roster.map((m) => [m.id, m.connections.map((k) => k.nodeId)])).toEqual(
            roster.map((m) => [m.id, ['live']]),
          );
          expect(await stores[3]!.count(`room-${room}`)).toBe(roster.length);
        }
        expect(await connections[0]!.exists(keys.nodePresence('dead'))).toBe(0);
        expect(await stores[4]!.nodes()).toEqual(['live']);
        await stores[0]!.purgeNode('live');
        expect(await stores[0]!.nodes()).toEqual([]);
      }
    } finally {
      await deleteKeys(connections[0]!, prefix);
    }
  });

  test('presence - $presence answers members only by default, anyone once the app allows it; presence events carry meta and id', async () => {
    const hooks: PresenceChange[] = [];
    cluster = await setup({ ioNodes: 2, appNodes: 1, register: presenceApp(hooks) });
    const c = cluster;
    const [member, outsider] = await Promise.all([c.connect(0), c.connect(1)]);
    const own = nextPresence(member);
    await member.emitWithAck('pjoin', 'r', { nick: 'ada', id: 'ignored' });
    expect(await own).toEqual({ room: 'r', joined: { nick: 'ada', id: member.id } });
    expect(await member.emitWithAck('$presence', 'r')).toEqual({
      room: 'r',
      members: [{ nick: 'ada', id: member.id }],
    });
    expect(await outsider.emitWithAck('$presence', 'r')).toEqual({
      error: { code: 'FORBIDDEN', message: 'not allowed to read the members of "r"' },
    });
    expect(((await member.emitWithAck('$presence', 42)) as { error: { code: string } }).error.code).toBe(
      'BAD_REQUEST',
    );
    expect(((await member.emitWithAck('presence', 'r')) as { error: { code: string } }).error.code).toBe(
      'RESERVED_EVENT',
    );
    c.appNodes[0]!.authorizePresence(() => true);
    expect(await outsider.emitWithAck('$presence', 'r')).toEqual({
      room: 'r',
      members: [{ nick: 'ada', id: member.id }],
    });
    // A plain join (no presence) makes a room member, told of presence changes but not in the roster.
    await outsider.emitWithAck('plain join', 'r');
    const left = nextPresence(outsider);
    await member.emitWithAck('pleave', 'r');
    expect(await left).toEqual({ room: 'r', left: { nick: 'ada', id: member.id } });
    expect(await c.appNodes[0]!.presenceCount('r')).toBe(0);
    expect(await c.appNodes[0]!.presence('r')).toEqual([]);
    expect(hooks.map((h) => `${h.type} ${h.reason}`)).toEqual(['joined join', 'left leave']);
  });
});

function nextPresence(socket: Socket): Promise<PresencePayload> {
  return new Promise((resolve) => socket.once('presence', resolve));
}
