import type { IoclusterClient, RecoveryReport } from '@iocluster/client';
import { expect } from 'vitest';
import { next } from './clients.js';
import type { ChildIoNode, Cluster } from './cluster.js';
import { until } from './poll.js';

/**
 * End-to-end failure scenarios the suite runs on more than one Redis topology (a standalone server and a
 * Redis Cluster): each drives the cluster it is given and asserts what the guarantee says.
 */

/**
 * `listeners` (clients of `@iocluster/client`, all on `victim`) join `h:lobby`; an in-process io-node is
 * started and `publishers` plain clients on it send `perPublisher` messages each, the first one killing
 * `victim` (SIGKILL) after its eleventh. Every listener must end on another node, recovered, having
 * received every message once, in the room's history order. Resolves with the recovery reports.
 */
export async function ioNodeKilledWhilePublishing(
  c: Cluster,
  options: { victim: ChildIoNode; listeners: IoclusterClient[]; publishers: number; perPublisher: number },
): Promise<RecoveryReport[]> {
  const { victim, listeners, perPublisher } = options;
  await Promise.all(listeners.map((l) => next(l, 'connected')));
  expect(new Set(listeners.map((l) => l.nodeId))).toEqual(new Set([victim.nodeId]));
  for (const l of listeners) await l.emitWithAck('join', 'h:lobby');
  const received = listeners.map(() => [] as string[]);
  listeners.forEach((l, i) => {
    l.on('room', (m: string) => received[i]!.push(m));
  });
  const reports = listeners.map((l) => next(l, 'recovered'));

  await c.startIoNode();
  const publishers = await Promise.all(Array.from({ length: options.publishers }, () => c.connect(0)));
  const publishing = publishers.map(async (p, i) => {
    for (let n = 0; n < perPublisher; n++) {
      await p.emitWithAck('room only', 'h:lobby', `p${i}-${n}`);
      if (i === 0 && n === 10) await victim.kill();
    }
  });
  await Promise.all(publishing);
  const total = publishers.length * perPublisher;
  await until(
    async () => received.map((r) => r.length),
    (counts) => counts.every((n) => n >= total),
    20_000,
  );
  // The order every listener saw is the room's history order, each message once.
  const page = await c.appNodes[0]!.history('h:lobby', { limit: 1_000 });
  const historyOrder = page.messages.map((m) => m.args[0] as string);
  expect(historyOrder).toHaveLength(total);
  for (const r of received) expect(r).toEqual(historyOrder);
  const settled = (await Promise.all(reports)).map(([report]) => report);
  for (const report of settled) expect(report).toMatchObject({ recovered: true, rooms: ['h:lobby'] });
  for (const l of listeners) expect(l.nodeId).not.toBe(victim.nodeId);
  return settled;
}

/**
 * Four clients over two io-nodes send `perClient` slow events each (every handler sleeps 100 ms, so an
 * app-node inside one holds its job for a while); the child app-node first seen inside a handler is
 * SIGKILLed. Every event must be answered, in order per client, and the other app-node go on serving.
 */
export async function appNodeKilledHoldingJobs(c: Cluster, perClient: number): Promise<void> {
  const clients = await Promise.all([c.connect(0), c.connect(1), c.connect(0), c.connect(1)]);
  const acks = clients.map((socket, k) =>
    Promise.all(Array.from({ length: perClient }, (_, n) => socket.emitWithAck('slow', k * 100 + n, 100))),
  );
  // Kill whichever app-node is first seen inside a handler, i.e. holding a job. (Picking one in advance
  // could wait forever: the other may take every job.)
  const victimId = await Promise.race(
    clients.map(
      (socket) =>
        new Promise<string>((resolve) => socket.once('started', (_n: number, by: string) => resolve(by))),
    ),
  );
  const victim = c.children.find((child) => child.nodeId === victimId)!;
  const survivor = c.children.find((child) => child.nodeId !== victimId)!;
  await victim.kill();
  const results = await Promise.all(acks);
  expect(results).toEqual(clients.map((_, k) => Array.from({ length: perClient }, (_, n) => k * 100 + n)));
  // The survivor is still serving, and it is the only one left.
  expect(await clients[0]!.emitWithAck('who')).toBe(survivor.nodeId);
}
