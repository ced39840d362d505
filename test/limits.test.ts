import type { AppNode } from '@iocluster/app-node';
import { afterEach, describe, expect, test } from 'vitest';
import registerTestApp from './fixtures/test-app.js';
import { type Cluster, nextEvent, setup } from './support/cluster.js';
import { until } from './support/poll.js';

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.cleanup();
  cluster = undefined;
});

type Answer = { error?: { code: string } } | unknown[];
const codeOf = (answer: unknown) => (answer as { error?: { code?: string } }).error?.code ?? 'ok';

function count(answers: readonly unknown[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const answer of answers) out[codeOf(answer)] = (out[codeOf(answer)] ?? 0) + 1;
  return out;
}

function register(app: AppNode, disconnects: string[] = []): void {
  registerTestApp(app);
  app.on('disconnect', (_socket, reason) => void disconnects.push(reason));
}

describe('limits', () => {
  test('rate - a burst past the bucket gets RATE_LIMITED for exactly the excess; another client is untouched', async () => {
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => register(app),
      // One token a second: the 20 emits below, sent in well under a second, find 5 tokens.
      ioNodeOptions: { clientEventRate: 1, clientEventBurst: 5, clientRateDisconnectAfter: 0 },
    });
    const a = await cluster.connect(0);
    const b = await cluster.connect(0);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, n) => a.emitWithAck('echo', n) as Promise<Answer>),
    );
    expect(count(answers)).toEqual({ ok: 5, RATE_LIMITED: 15 });
    expect(answers.slice(0, 5)).toEqual([[0], [1], [2], [3], [4]]);
    expect(await b.emitWithAck('echo', 'b')).toEqual(['b']);
    expect(a.connected).toBe(true);
  });

  test('rate - sustained abuse disconnects the client with RATE_LIMITED, told first, seen by app-nodes', async () => {
    const disconnects: string[] = [];
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => register(app, disconnects),
      ioNodeOptions: { clientEventRate: 1, clientEventBurst: 2, clientRateDisconnectAfter: 10 },
    });
    const a = await cluster.connect(0);
    const told: unknown[] = [];
    a.on('$error', (e: unknown) => told.push(e));
    const gone = nextEvent<[string]>(a, 'disconnect');
    for (let n = 0; n < 50; n++) a.emit('echo', n);
    expect((await gone)[0]).toBe('io server disconnect');
    expect(told).toEqual([
      { code: 'RATE_LIMITED', message: 'too many events refused for rate; disconnected' },
    ]);
    await expect.poll(() => disconnects).toEqual(['RATE_LIMITED']);
    // Coming straight back does not buy a fresh burst: the address is refused for a while.
    await expect(cluster.connect(0)).rejects.toMatchObject({ data: { code: 'RATE_LIMITED' } });
  });

  test('payload - events over MAX_PAYLOAD_BYTES (text or binary attachments together) get PAYLOAD_TOO_LARGE', async () => {
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => register(app),
      ioNodeOptions: { maxPayloadBytes: 1_024 },
    });
    const a = await cluster.connect(0);
    expect(await a.emitWithAck('echo', 'x'.repeat(900))).toEqual(['x'.repeat(900)]);
    expect(codeOf(await a.emitWithAck('echo', 'x'.repeat(1_100)))).toBe('PAYLOAD_TOO_LARGE');
    // Multi-byte characters are counted in bytes: 400 characters, 1200 bytes.
    expect(codeOf(await a.emitWithAck('echo', '€'.repeat(400)))).toBe('PAYLOAD_TOO_LARGE');
    expect(codeOf(await a.emitWithAck('echo', Buffer.alloc(1_100)))).toBe('PAYLOAD_TOO_LARGE');
    expect(codeOf(await a.emitWithAck('echo', Buffer.alloc(600), Buffer.alloc(600)))).toBe(
      'PAYLOAD_TOO_LARGE',
    );
    // Events sent in one tick are dispatched on a later one: each is still measured by its own size.
    const mixed = await Promise.all(
      ['a', 'b'.repeat(1_100), 'c', Buffer.alloc(1_100), 'e'].map((v) => a.emitWithAck('echo', v)),
    );
    expect(mixed.map(codeOf)).toEqual(['ok', 'PAYLOAD_TOO_LARGE', 'ok', 'PAYLOAD_TOO_LARGE', 'ok']);
    // Nesting deeper than 256 levels is refused (JSON could not encode it for the queue).
    let deep: unknown = 'leaf';
    for (let i = 0; i < 300; i++) deep = [deep];
    expect(codeOf(await a.emitWithAck('echo', deep))).toBe('PAYLOAD_TOO_LARGE');
    const [small] = (await a.emitWithAck('echo', Buffer.alloc(300, 7))) as [Buffer];
    expect(Buffer.from(small)).toEqual(Buffer.alloc(300, 7));
    // Far past the frame bound (limit + 4 KB) the transport closes the connection.
    const closed = nextEvent<[string]>(a, 'disconnect');
    a.emit('echo', 'y'.repeat(20_000));
    expect((await closed)[0]).toBe('transport close');
  });

  test('connections - MAX_CONNECTIONS admits exactly that many, SERVER_FULL for the next, a freed place is reused', async () => {
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => register(app),
      ioNodeOptions: { maxConnections: 3 },
    });
    const c = cluster;
    const sockets = [await c.connect(0), await c.connect(0), await c.connect(0)];
    const refused = await c.connect(0).then(
      () => 'connected',
      (e: { data?: { code?: string } }) => e.data?.code,
    );
    expect(refused).toBe('SERVER_FULL');
    expect(c.ioNodes[0]!.connections).toBe(3);
    sockets[0]!.disconnect();
    await until(
      async () => c.ioNodes[0]!.connections,
      (n) => n === 2,
      5_000,
    );
    const again = await c.connect(0);
    expect(await again.emitWithAck('echo', 1)).toEqual([1]);
  });

  test('connections - new connections per second per address: RATE_LIMITED past the bound', async () => {
    cluster = await setup({
      ioNodes: 1,
      appNodes: 1,
      register: (app) => register(app),
      ioNodeOptions: { connectionsPerSecondPerIp: 3 },
    });
    const c = cluster;
    const codes: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      codes.push(
        await c.connect(0).then(
          () => 'connected',
          (e: { data?: { code?: string } }) => e.data?.code,
        ),
      );
    }
    expect(codes).toEqual(['connected', 'connected', 'connected', 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  test('queue - past QUEUE_MAX_WAITING events get OVERLOADED; every accepted event is still handled', async () => {
    const handled: unknown[] = [];
    cluster = await setup({
      ioNodes: 1,
      appNodes: 0,
      register: (app) => {
        register(app);
        app.on('note', (_socket, n: unknown) => {
          handled.push(n);
          return n;
        });
      },
      ioNodeOptions: { queueMaxWaiting: 3, queueCheckIntervalMs: 20 },
    });
    const c = cluster;
    // No app-node yet: every client's connect job waits in the queue.
    const clients = [await c.connect(0), await c.connect(0), await c.connect(0)];
    const firsts = clients.map((s, i) => s.emitWithAck('note', `first-${i}`));
    const probe = clients[0]!;
    // Each probe's answer is kept: one not answered within 100 ms may still be accepted (answered once an
    // app-node runs) or refused late, so what was accepted is read from the final answers, not guessed.
    const probes: Promise<unknown>[] = [];
    await until(
      async () => {
        const answer = probe.emitWithAck('note', `probe-${probes.length}`);
        probes.push(answer);
        return Promise.race([answer, new Promise((resolve) => setTimeout(resolve, 100, 'pending'))]);
      },
      (answer) => codeOf(answer) === 'OVERLOADED',
      10_000,
    );
    await c.startAppNode();
    // A first note that reached the io-node after the guard read the three connect jobs (3 of 3) is
    // refused too: which of them were accepted is read from their answers, like the probes'.
    const answers = [...(await Promise.all(firsts)), ...(await Promise.all(probes))];
    for (const answer of answers) {
      if (codeOf(answer) !== 'OVERLOADED') expect(answer).toMatch(/^(first|probe)-\d+$/);
    }
    expect(answers.filter((a) => codeOf(a) === 'OVERLOADED').length).toBeGreaterThan(0);
    // Any of them may have been refused (the guard can read the three connect jobs before the first
    // notes arrive); once the app-node drained the queue, events are accepted again.
    const expected = answers.filter((a) => codeOf(a) !== 'OVERLOADED');
    const after = await until(
      () => probe.emitWithAck('note', 'after'),
      (answer) => codeOf(answer) !== 'OVERLOADED',
      10_000,
    );
    expect(after).toBe('after');
    expected.push('after');
    await expect.poll(() => [...handled].sort(), { timeout: 10_000 }).toEqual(expected.sort());
  });
});
