import type { AppNode } from '@iocluster/app-node';
import type { PresenceMember } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import { type Cluster, setup } from './support/cluster.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

type Seen = { members: PresenceMember[]; count: number };

/** Handlers that read the roster right after changing it, in the same handler. */
function register(app: AppNode): void {
  app.on('join and read', async (socket, room: string, meta: Record<string, unknown>): Promise<Seen> => {
    await socket.join(room, { presence: meta });
    return { members: await app.presence(room), count: await app.presenceCount(room) };
  });
  app.on('leave and read', async (socket, room: string): Promise<Seen> => {
    await socket.leave(room);
    return { members: await app.presence(room), count: await app.presenceCount(room) };
  });
  app.on(
    'read',
    async (_socket, room: string): Promise<Seen> => ({
      members: await app.presence(room),
      count: await app.presenceCount(room),
    }),
  );
}

const ids = (seen: Seen) => seen.members.map((m) => m.id);

describe('presence consistency', () => {
  test('presence - a handler sees its own join and leave in app.presence and app.presenceCount, every time', async () => {
    cluster = await setup({ ioNodes: 2, appNodes: 2, register });
    const [a, b] = await Promise.all([cluster.connect(0), cluster.connect(1)]);
    // Each round: a fresh room; b (on the other io-node) joins first, then a; then a leaves. Before the
    // io-node applied a's join (or leave), a roster read of Redis alone misses it.
    for (let round = 0; round < 25; round++) {
      const room = `ryw-${round}`;
      const first = (await b.emitWithAck('join and read', room, { nick: 'bob' })) as Seen;
      expect(ids(first)).toEqual([b.id]);
      expect(first.count).toBe(1);
      const joined = (await a.emitWithAck('join and read', room, { nick: 'ann', round })) as Seen;
      expect(ids(joined)).toEqual([b.id, a.id]);
      expect(joined.members[1]!.meta).toEqual({ nick: 'ann', round });
      expect(joined.members[1]!.connections.map((c) => c.socketId)).toEqual([a.id]);
      expect(joined.count).toBe(2);
      const left = (await a.emitWithAck('leave and read', room)) as Seen;
      expect(ids(left)).toEqual([b.id]);
      expect(left.count).toBe(1);
    }
    // Once the jobs are over, the roster in Redis says the same (the io-nodes wrote it).
    await expect.poll(async () => ids((await b.emitWithAck('read', 'ryw-24')) as Seen)).toEqual([b.id]);
  });
});
