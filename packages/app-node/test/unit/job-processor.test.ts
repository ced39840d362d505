import {
  type ClientInfo,
  type ClientRef,
  type Command,
  type CommandPublisher,
  type CommandTransport,
  createCommandPublisher,
  createMemoryClientStates,
  createMemoryCommandPath,
  createMemoryIngress,
  deferred,
  encodeArgs,
  INGRESS_VERSION,
  type IngressDelivery,
  type IngressEvent,
  type IngressJob,
  IoclusterError,
  type ReplyCommand,
  silentLogger,
} from '@iocluster/shared';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { AppSocket } from '../../src/app-socket.js';
import { ClientCache } from '../../src/client-cache.js';
import {
  type EventHandler,
  type EventMiddleware,
  ingressHandler,
  JobProcessor,
} from '../../src/job-processor.js';
import { SeenClients } from '../../src/seen-clients.js';

const NODE = 'io-1';

function client(id: string, extra: Partial<ClientInfo> = {}): ClientInfo {
  return {
    id,
    nodeId: NODE,
    data: {},
    rooms: [],
    handshake: { address: '127.0.0.1', time: 0, query: {}, auth: {} },
    user: null,
    ...extra,
  };
}

const job = (...batches: [ClientInfo | ClientRef, IngressEvent[]][]): IngressJob => ({
  v: INGRESS_VERSION,
  nodeId: NODE,
  batches: batches.map(([info, events]) => ({ client: info, events })),
});
const call = (seq: number, name: string, args: unknown[], ack = true): IngressEvent => ({
  seq,
  kind: 'event',
  name,
  args,
  ack,
});

/** One app-node's event processor on the in-memory command path, and what io-node `io-1` applied. */
async function setup(
  handlers: Record<string, EventHandler>,
  options: {
    middleware?: EventMiddleware[];
    handlerTimeoutMs?: number;
    /** Wraps the in-memory transport (to make it fail, say). */
    wrap?: (transport: CommandTransport) => CommandTransport;
    /** Client states the processor serves versioned batches from. */
    clients?: ClientCache;
  } = {},
) {
  const path = createMemoryCommandPath();
  const subscriber = path.subscriber(NODE);
  const received: Command[] = [];
  subscriber.onCommand((cmd) => {
    received.push(cmd);
  });
  await subscriber.start();
  const transport = options.wrap ? options.wrap(path.transport()) : path.transport();
  const publisher: CommandPublisher = createCommandPublisher(transport, {
    history: { keeps: () => false, limits: { maxLength: 10, ttlMs: 60_000 } },
    logger: silentLogger(),
  });
  const processor = new JobProcessor(
    { handlers: new Map(Object.entries(handlers)), middleware: options.middleware ?? [] },
    publisher,
    new SeenClients(100),
    silentLogger(),
    {
      handlerTimeoutMs: options.handlerTimeoutMs ?? 5_000,
      earlierAnswer: (s, eid) => transport.earlierAnswer(s, eid),
      ...(options.clients ? { clients: options.clients } : {}),
    },
  );
  /** Runs a job, then waits until the io-node applied `count` commands in all. */
  async function run(payload: IngressJob, count: number): Promise<Command[]> {
    await processor.run(payload, { jobId: 'j' });
    await vi.waitFor(() => expect(received.length).toBeGreaterThanOrEqual(count));
    return received;
  }
  closers.push(
    () => subscriber.close(),
    () => publisher.close(),
  );
  return { path, processor, publisher, received, run };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.allSettled(closers.splice(0).map((close) => close()));
});

const replies = (cmds: Command[]) => cmds.filter((c): c is ReplyCommand => c.type === 'reply');

describe('job processor', () => {
  test('dispatch - an event runs its handler with decoded arguments; the return value answers the ack', async () => {
    const seen: unknown[][] = [];
    const { run } = await setup({
      add: (_socket, a, b) => {
        seen.push([a, b]);
        return (a as number) + (b as number);
      },
    });
    const bytes = Buffer.from([1, 2, 3]);
    const encoded = encodeArgs([bytes, 2]);
    const got = await run(
      job([
        client('s1'),
        [
          call(0, 'add', [1, 2]),
          { seq: 1, kind: 'event', name: 'add', args: encoded.args, ack: false, bin: true },
        ],
      ]),
      2,
    );
    expect(seen).toEqual([
      [1, 2],
      [bytes, 2],
    ]);
    expect(replies(got)).toEqual([
      { type: 'reply', socketId: 's1', seq: 0, result: 3 },
      // No ack: the reply only releases the next event.
      { type: 'reply', socketId: 's1', seq: 1 },
    ]);
  });

  test('dispatch - an event without a handler answers an ack NO_HANDLER, and an event without ack plainly', async () => {
    const { run } = await setup({});
    const got = await run(job([client('s1'), [call(0, 'nothing', []), call(1, 'nothing', [], false)]]), 2);
    expect(replies(got)).toEqual([
      {
        type: 'reply',
        socketId: 's1',
        seq: 0,
        error: { code: 'NO_HANDLER', message: 'no handler for event "nothing"' },
      },
      { type: 'reply', socketId: 's1', seq: 1 },
    ]);
  });

  test('errors - a handler’s throw answers its ack with the error’s code, or HANDLER_ERROR; the next event runs', async () => {
    const { run } = await setup({
      coded: () => {
        throw new IoclusterError('FORBIDDEN', 'not yours');
      },
      plain: async () => {
        throw new Error('boom');
      },
      fine: () => 'ok',
    });
    const got = await run(
      job([client('s1'), [call(0, 'coded', []), call(1, 'plain', []), call(2, 'fine', [])]]),
      3,
    );
    expect(replies(got).map((r) => r.error ?? r.result)).toEqual([
      { code: 'FORBIDDEN', message: 'not yours' },
      { code: 'HANDLER_ERROR', message: 'boom' },
      'ok',
    ]);
  });

  test('errors - middleware that throws refuses the event: its handler does not run', async () => {
    let ran = 0;
    const { run } = await setup(
      { guarded: () => ++ran },
      {
        middleware: [
          (_socket, event, args) => {
            if (args[0] === 'bad') throw new IoclusterError('FORBIDDEN', `${event} refused`);
          },
        ],
      },
    );
    const got = await run(
      job([client('s1'), [call(0, 'guarded', ['bad']), call(1, 'guarded', ['good'])]]),
      2,
    );
    expect(replies(got).map((r) => r.error ?? r.result)).toEqual([
      { code: 'FORBIDDEN', message: 'guarded refused' },
      1,
    ]);
    expect(ran).toBe(1);
  });

  test('timeout - a handler that hangs is answered TIMEOUT after handlerTimeoutMs and its client’s next event runs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { processor, received } = await setup(
      { hang: () => new Promise(() => undefined), quick: () => 'quick' },
      { handlerTimeoutMs: 1_000 },
    );
    const done = processor.run(job([client('s1'), [call(0, 'hang', []), call(1, 'quick', [])]]), {
      jobId: 'j',
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(received).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await done;
    await vi.waitFor(() => expect(received).toHaveLength(2));
    expect(replies(received).map((r) => r.error?.code ?? r.result)).toEqual(['TIMEOUT', 'quick']);
  });

  test('no-client - the first event of a client this app-node has not seen runs no-client first, with its state', async () => {
    const order: string[] = [];
    const handlers: Record<string, EventHandler> = {
      connection: (socket) => void order.push(`connection ${socket.id}`),
      'no-client': (socket: AppSocket) =>
        void order.push(`no-client ${socket.id} ${JSON.stringify(socket.data)}`),
      disconnect: (socket, reason) => void order.push(`disconnect ${socket.id} ${String(reason)}`),
      hi: (socket) => void order.push(`hi ${socket.id}`),
    };
    const { run } = await setup(handlers);
    // s1 connected here; s2 connected through another app-node and comes with its data.
    await run(job([client('s1'), [{ seq: 0, kind: 'connect' }, call(1, 'hi', [])]]), 2);
    await run(job([client('s2', { data: { name: 'ann' } }), [call(3, 'hi', []), call(4, 'hi', [])]]), 4);
    // After a disconnect the client is forgotten: were its id to come back, it would be new again.
    await run(job([client('s1'), [{ seq: 2, kind: 'disconnect', reason: 'transport close' }]]), 5);
    await run(job([client('s1'), [call(3, 'hi', [])]]), 6);
    expect(order).toEqual([
      'connection s1',
      'hi s1',
      'no-client s2 {"name":"ann"}',
      'hi s2',
      'hi s2',
      'disconnect s1 transport close',
      'no-client s1 {}',
      'hi s1',
    ]);
  });

  test('order - a client’s events run one after another, each handler’s commands before its reply', async () => {
    // Every handler yields a turn of the event loop (so each event's commands go out in a delivery of
    // their own), and the first one waits on a gate opened only after a few turns: the later events must
    // still wait for it.
    const gate = deferred();
    const { run } = await setup({
      step: async (socket, i) => {
        if (i === 0) await gate.promise;
        await new Promise((resolve) => setImmediate(resolve));
        socket.emit('did', i);
        socket.setData({ last: i });
      },
    });
    const running = run(job([client('s1'), [0, 1, 2].map((i) => call(i, 'step', [i], false))]), 9);
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    gate.resolve();
    const got = await running;
    expect(
      got.map((c) =>
        c.type === 'reply'
          ? `reply ${c.seq}`
          : `${c.type} ${JSON.stringify(c.type === 'emit' ? c.args : (c as { data?: unknown }).data)}`,
      ),
    ).toEqual([
      'emit [0]',
      'set-data {"last":0}',
      'reply 0',
      'emit [1]',
      'set-data {"last":1}',
      'reply 1',
      'emit [2]',
      'set-data {"last":2}',
      'reply 2',
    ]);
  });
});

describe('ingress handler', () => {
  test('acks - a job is acknowledged once its commands are appended; one whose append failed runs again', async () => {
    let failures = 1;
    const flaky = (inner: CommandTransport): CommandTransport => ({
      ...inner,
      async append(entries) {
        if (failures-- > 0) throw new Error('connection lost');
        return inner.append(entries);
      },
    });
    const { processor, received } = await setup({ ping: () => 'pong' }, { wrap: flaky });
    const ingress = createMemoryIngress({ retryDelayMs: 10 });
    const consumer = ingress.consumer({ concurrency: 2 });
    const results: string[] = [];
    const deliveries: IngressDelivery[] = [];
    const handler = ingressHandler(processor, {
      presence: { run: async () => undefined },
      onJob: (result) => results.push(result),
    });
    await consumer.start((delivery) => {
      deliveries.push(delivery);
      return handler(delivery);
    });
    closers.push(() => consumer.close());
    await ingress.producer().add([job([client('s1'), [call(0, 'ping', [])]])]);
    await vi.waitFor(() => expect(received).toHaveLength(1));
    expect(replies(received)).toEqual([{ type: 'reply', socketId: 's1', seq: 0, result: 'pong' }]);
    expect(results).toEqual(['failed', 'completed']);
    expect(deliveries.map((d) => d.redelivered)).toEqual([0, 1]);
    expect(await consumer.backlog()).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    expect(ingress.failed).toEqual([]);
  });

  test('acks - a malformed job never reaches the handler and is kept as failed at once', async () => {
    const ingress = createMemoryIngress();
    const consumer = ingress.consumer({ concurrency: 1 });
    const handled: IngressDelivery[] = [];
    const malformed: string[] = [];
    await consumer.start(async (delivery) => void handled.push(delivery), {
      onMalformed: (id) => malformed.push(id),
    });
    closers.push(() => consumer.close());
    const bad = { v: INGRESS_VERSION, nodeId: '', batches: [] } as IngressJob;
    await ingress.producer().add([bad, job([client('s1'), [call(0, 'x', [])]])]);
    await vi.waitFor(() => expect(handled).toHaveLength(1));
    expect(ingress.failed).toEqual([{ id: '1', reason: expect.stringContaining('job.nodeId') }]);
    expect(malformed).toEqual(['1']);
    expect(await consumer.backlog()).toMatchObject({ waiting: 0, active: 0, failed: 1 });
  });
});

describe('slim events', () => {
  const stored = (info: ClientInfo & { v: number }) => ({ id: info.id, json: JSON.stringify(info) });

  test('slim events - a version the app-node holds runs from its cache; a newer one is read once per job, and no-client fires at first sight', async () => {
    const store = createMemoryClientStates();
    const seen: [string, string, unknown, string[]][] = [];
    const note = (what: string) => (socket: AppSocket) =>
      void seen.push([what, socket.id, socket.data.nick, [...socket.rooms]]);
    const { run, received } = await setup(
      { connection: note('connection'), 'no-client': note('no-client'), hi: note('hi') },
      { clients: new ClientCache(store, 100) },
    );
    // Connected: the state comes inline, at version 1.
    await run(job([client('s1', { v: 1 }), [{ seq: 0, kind: 'connect' }]]), 1);
    // A handler elsewhere set its nick and joined it to a room: version 2, stored by its io-node.
    await store.write(
      [
        stored({ ...client('s1', { data: { nick: 'ann' }, rooms: ['r'] }), v: 2 }),
        stored({ ...client('s2', { data: { nick: 'bob' } }), v: 1 }),
      ],
      60_000,
    );
    await run(
      job([{ id: 's1', v: 2 }, [call(1, 'hi', [], false)]], [{ id: 's2', v: 1 }, [call(0, 'hi', [], false)]]),
      3,
    );
    expect(store.reads).toBe(2);
    // Both held now: nothing more is read.
    await run(
      job([{ id: 's1', v: 2 }, [call(2, 'hi', [], false)]], [{ id: 's2', v: 1 }, [call(1, 'hi', [], false)]]),
      5,
    );
    expect(store.reads).toBe(2);
    expect(seen).toEqual([
      ['connection', 's1', undefined, []],
      ['hi', 's1', 'ann', ['r']],
      ['no-client', 's2', 'bob', []],
      ['hi', 's2', 'bob', []],
      ['hi', 's1', 'ann', ['r']],
      ['hi', 's2', 'bob', []],
    ]);
    expect(replies(received).every((r) => r.resend === undefined)).toBe(true);
  });

  test('slim events - a batch whose version the store lost runs nothing: each event is answered resend', async () => {
    const store = createMemoryClientStates();
    let ran = 0;
    const { run } = await setup(
      { 'no-client': () => void ran++, hi: () => void ran++ },
      { clients: new ClientCache(store, 100) },
    );
    // Stored at version 1, but the batch names version 2 (written, then lost with a Redis restart).
    await store.write([stored({ ...client('s3'), v: 1 })], 60_000);
    const got = await run(job([{ id: 's3', v: 2 }, [call(4, 'hi', []), call(5, 'hi', [])]]), 2);
    expect(replies(got)).toEqual([
      { type: 'reply', socketId: 's3', seq: 4, resend: true },
      { type: 'reply', socketId: 's3', seq: 5, resend: true },
    ]);
    expect(ran).toBe(0);
  });

  test('slim events - what a handler does to the data it was given stays out of the cached state', async () => {
    const store = createMemoryClientStates();
    const lists: unknown[] = [];
    const { run } = await setup(
      {
        hi: (socket) => {
          const list = socket.data.list as number[];
          lists.push([...list]);
          list.push(lists.length);
        },
      },
      { clients: new ClientCache(store, 100) },
    );
    await run(job([client('s1', { v: 1, data: { list: [0] } }), [call(0, 'hi', [], false)]]), 1);
    await run(job([{ id: 's1', v: 1 }, [call(1, 'hi', [], false)]]), 2);
    expect(lists).toEqual([[0], [0]]);
    expect(store.reads).toBe(0);
  });
});
