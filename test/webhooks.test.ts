import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AppNode, verifyWebhook, type WebhookBody } from '@iocluster/app-node';
import { createKeys } from '@iocluster/shared';
import { Queue } from 'bullmq';
import { afterEach, describe, expect, test } from 'vitest';
import { type Cluster, setup } from './support/cluster.js';
import { until } from './support/poll.js';

let cluster: Cluster | undefined;
let server: Server | undefined;
let queue: Queue | undefined;
afterEach(async () => {
  await queue?.close();
  await cluster?.cleanup();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  cluster = undefined;
  server = undefined;
  queue = undefined;
});

const SECRET = 'a shared secret for the test';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A webhook endpoint on loopback answering 500 to the first `failures` attempts of each delivery, then 204. */
async function endpoint(failures: number): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const delivery = req.headers['x-iocluster-delivery'];
      const before = received.filter((r) => r.headers['x-iocluster-delivery'] === delivery).length;
      const status = before < failures ? 500 : 204;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/hooks`, received };
}

function webhookApp(app: AppNode): void {
  app.on('pjoin', async (socket, room: string) => {
    await socket.join(room, { presence: { name: socket.id } });
    return true;
  });
}

describe('webhooks', () => {
  test('webhooks - batched, signed, a failing endpoint retried with the same body until it answers, the job kept in BullMQ', async () => {
    const { url, received } = await endpoint(2);
    cluster = await setup({
      ioNodes: 2,
      appNodes: 2,
      register: webhookApp,
      ioNodeOptions: { occupancyRooms: ['room-*'] },
      appNodeOptions: {
        webhookUrl: url,
        webhookSecret: SECRET,
        webhookEvents: ['occupied', 'vacated', 'joined', 'left'],
        webhookLingerMs: 300,
        webhookBackoffMs: 200,
      },
    });
    const c = cluster;
    const clients = await Promise.all([0, 1, 0, 1].map((i) => c.connect(i)));
    await Promise.all(
      clients.map((s) => Promise.all(['room-1', 'room-2'].map((r) => s.emitWithAck('pjoin', r)))),
    );
    const expected = [
      'occupied room-1',
      'occupied room-2',
      ...clients.flatMap((s) => [`joined room-1 ${s.id}`, `joined room-2 ${s.id}`]),
    ].sort();
    const delivered = () =>
      received
        .filter((r) => r.status === 204)
        .flatMap((r) => (JSON.parse(r.body) as WebhookBody).events)
        .map((e) => [e.name, e.room, ...(e.member ? [e.member.id] : [])].join(' '))
        .sort();
    await until(
      async () => delivered(),
      (d) => d.length >= expected.length,
      15_000,
    );
    expect(delivered()).toEqual(expected);

    for (const r of received) {
      const signature = String(r.headers['x-iocluster-signature']);
      // What a receiver computes with node:crypto alone, and the helper the package exports.
      expect(signature).toBe(createHmac('sha256', SECRET).update(r.body).digest('hex'));
      expect(verifyWebhook(SECRET, r.body, signature)).toBe(true);
      expect(verifyWebhook(SECRET, `${r.body} `, signature)).toBe(false);
      expect(Number(r.headers['x-iocluster-timestamp'])).toBe((JSON.parse(r.body) as WebhookBody).time);
      expect(r.headers['content-type']).toBe('application/json');
    }
    // Batched: fewer requests than events, and at least one carries several.
    const bodies = new Set(received.map((r) => r.body));
    expect(bodies.size).toBeLessThan(expected.length);
    expect(Math.max(...[...bodies].map((b) => (JSON.parse(b) as WebhookBody).events.length))).toBeGreaterThan(
      1,
    );
    // Each batch failed twice and went out again, with the same delivery id and the same bytes.
    const deliveries = new Set(received.map((r) => String(r.headers['x-iocluster-delivery'])));
    for (const id of deliveries) {
      const attempts = received.filter((r) => r.headers['x-iocluster-delivery'] === id);
      expect(attempts.map((r) => r.status)).toEqual([500, 500, 204]);
      expect(new Set(attempts.map((r) => r.body)).size).toBe(1);
    }
    const first = received[0]!;

    const keys = createKeys(c.prefix);
    queue = new Queue(keys.webhookQueue, { connection: c.redis, prefix: keys.bullPrefix });
    const job = await queue.getJob(String(first.headers['x-iocluster-delivery']));
    expect(job?.attemptsMade).toBe(3);
    expect(await job?.getState()).toBe('completed');
    expect(job?.data.body).toBe(first.body);
    // The admin view's queue board lists the webhook queue and its completed deliveries.
    const frontend = await c.startFrontend({ adminToken: 'admin-token-for-the-webhook-test' });
    const board = await fetch(
      `${frontend.url}/admin/queue/api/queues?activeQueue=webhooks&status=completed`,
      {
        headers: { authorization: 'Bearer admin-token-for-the-webhook-test' },
      },
    );
    expect(board.status).toBe(200);
    const listed = (await board.json()) as {
      queues: { name: string; counts: Record<string, number>; jobs: { id: string }[] }[];
    };
    const webhooks = listed.queues.find((q) => q.name === 'webhooks');
    expect(webhooks?.counts.completed).toBe(deliveries.size);
    expect(webhooks?.jobs.map((j) => j.id)).toContain(first.headers['x-iocluster-delivery']);

    // Leaving: left for each member and vacated for each room, once.
    received.length = 0;
    const gone = [
      'vacated room-1',
      'vacated room-2',
      ...clients.flatMap((s) => [`left room-1 ${s.id}`, `left room-2 ${s.id}`]),
    ].sort();
    for (const s of clients) s.disconnect();
    await until(
      async () => delivered(),
      (d) => d.length >= gone.length,
      15_000,
    );
    expect(delivered()).toEqual(gone);
  }, 60_000);
});
