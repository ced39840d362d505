import { createKeys, ingressPartitionOf } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, collect, setup } from './support/cluster.js';
import { INGRESS_TRANSPORTS, type IngressTransport, jobsAdded } from './support/ingress.js';

const PARTITIONS = 4;
let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

/** Redis Cluster's key slot: CRC16 (XMODEM) of the hash tag (or the key) modulo 16384. */
function slotOf(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

async function partitioned(transport?: IngressTransport): Promise<Cluster> {
  cluster = await setup({
    ...(transport ? { transport } : {}),
    ioNodes: 2,
    appNodes: 2,
    register: registerTestApp,
    ioNodeOptions: { ingressPartitions: PARTITIONS },
    appNodeOptions: { ingressPartitions: PARTITIONS },
  });
  return cluster;
}

describe('ingress partitions', () => {
  test('partitions - one partition keeps the original queue; with 4, each has its own Cluster slot', () => {
    const keys = createKeys('iocluster');
    expect(keys.ingressPartitions(1)).toEqual([
      { index: 0, name: 'ingress', bullPrefix: '{iocluster}', stream: '{iocluster}:ingress:stream' },
    ]);
    const four = keys.ingressPartitions(PARTITIONS);
    expect(four.map((p) => `${p.bullPrefix}:${p.name}:wait`)).toEqual([
      '{iocluster:p0}:ingress-0:wait',
      '{iocluster:p1}:ingress-1:wait',
      '{iocluster:p2}:ingress-2:wait',
      '{iocluster:p3}:ingress-3:wait',
    ]);
    // BullMQ's scripts touch several keys of one queue: they must share its slot, and queues must not.
    const slots = four.map((p) => slotOf(`${p.bullPrefix}:${p.name}:wait`));
    for (const [i, p] of four.entries()) {
      expect(slotOf(`${p.bullPrefix}:${p.name}:active`)).toBe(slots[i]);
      expect(slotOf(`${p.bullPrefix}:${p.name}:meta`)).toBe(slots[i]);
      // The Streams transport's partition sits in its queue's slot too.
      expect(slotOf(p.stream)).toBe(slots[i]);
    }
    expect(new Set(slots).size).toBe(PARTITIONS);
    // A client's partition is a function of its socket id alone.
    expect(ingressPartitionOf('abc', PARTITIONS)).toBe(ingressPartitionOf('abc', PARTITIONS));
    expect(ingressPartitionOf('abc', 1)).toBe(0);
  });

  test.each(INGRESS_TRANSPORTS)(
    'partitions - with 4, events of clients spread over the partitions and each client stays in order (%s)',
    async (transport) => {
      const c = await partitioned(transport);
      const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => c.connect(i % 2)));
      const runs = clients.map(async (client) => {
        const seqs = collect<number>(client, 'seq');
        const violations = collect(client, 'order violation');
        const acks = await Promise.all(Array.from({ length: 100 }, (_, n) => client.emitWithAck('seq', n)));
        await seqs.until(100);
        return { acks, seqs: seqs.items, violations: violations.items };
      });
      const expected = Array.from({ length: 100 }, (_, n) => n);
      for (const run of await Promise.all(runs)) {
        expect(run).toEqual({ acks: expected, seqs: expected, violations: [] });
      }
      const used = new Set(clients.map((client) => ingressPartitionOf(client.id!, PARTITIONS)));
      const added = await jobsAdded(c, PARTITIONS);
      for (const p of createKeys(c.prefix).ingressPartitions(PARTITIONS)) {
        if (used.has(p.index)) expect(added[p.index], p.name).toBeGreaterThan(0);
        else expect(added[p.index], p.name).toBe(0);
      }
      expect(used.size).toBeGreaterThan(1);
    },
  );

  test('partitions - with 4, an app-node meeting a client it has not seen fires no-client, then the event', async () => {
    const c = await partitioned();
    const a = await c.connect(0);
    const noClient = collect<string>(a, 'no-client');
    await a.emitWithAck('set', { name: 'ada' });
    const closed = c.appNodes.map((app) => app.nodeId);
    for (const app of c.appNodes.splice(0)) await app.close();
    const restarted = await c.startAppNode({ ingressPartitions: PARTITIONS });
    const got = (await a.emitWithAck('get')) as { data: { name: string }; by: string };
    expect(got).toEqual({ data: { name: 'ada' }, rooms: [], by: restarted.nodeId });
    // The restarted app-node fired it once, and before the event's answer (one client's emits and answers
    // arrive in order). Of the two app-nodes before, the one that did not run the connect may have too.
    expect(noClient.items.filter((id) => id === restarted.nodeId)).toEqual([restarted.nodeId]);
    expect(noClient.items.filter((id) => !closed.includes(id) && id !== restarted.nodeId)).toEqual([]);
  });
});
