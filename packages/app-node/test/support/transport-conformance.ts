import {
  type ClientInfo,
  type Command,
  type CommandPublisher,
  type CommandSubscriber,
  type CommandTransport,
  createCommandPublisher,
  createRequester,
  type EmitCommand,
  INGRESS_VERSION,
  type IngressConsumer,
  type IngressDelivery,
  type IngressEvent,
  type IngressProducer,
  type ReplyCommand,
  type ReplyInbox,
  type Requester,
  silentLogger,
} from '@iocluster/shared';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { BroadcastOperator } from '../../src/broadcast.js';
import { type EventHandler, JobProcessor } from '../../src/job-processor.js';
import { SeenClients } from '../../src/seen-clients.js';

/**
 * Both paths through the transport under test: what an io-node and an app-node would be given. Each
 * call builds a new piece; `close` closes whatever is still open and removes what the transport stored.
 */
export interface TransportHarness {
  /** An io-node's ingress producer. */
  producer(): IngressProducer;
  /** An app-node's ingress consumer, running at most `concurrency` jobs at once. */
  consumer(concurrency: number): IngressConsumer;
  /** Kills a consumer the way SIGKILL would: it finishes nothing, and its jobs are not acknowledged. */
  kill(consumer: IngressConsumer): Promise<void>;
  /** An app-node's command transport. */
  commands(): CommandTransport;
  /** An io-node's inbox reader. */
  subscriber(nodeId: string): CommandSubscriber;
  /** Drops the connection an io-node reads its inbox on; the reader reconnects by itself. */
  dropReader(nodeId: string): Promise<void>;
  /** A requester's reply inbox at `address` (the app-node's, the emitter's). */
  replyInbox(address: string): ReplyInbox;
  close(): Promise<void>;
}

/** Rooms whose name starts with `h:` keep history in this suite. */
const keepsHistory = (room: string) => room.startsWith('h:');
const WAIT_MS = 15_000;

/** An app-node of the suite: the real publisher and event processor on the transport's pieces. */
interface SuiteApp {
  readonly name: string;
  readonly consumer: IngressConsumer;
  readonly publisher: CommandPublisher;
  readonly transport: CommandTransport;
  /** Every job this app-node was handed, in order. */
  readonly deliveries: IngressDelivery[];
}

/** An io-node of the suite: sends its clients' events and records every command it applies. */
interface SuiteIoNode {
  readonly nodeId: string;
  readonly received: Command[];
  /** Sends one event of a client; resolves with its reply. */
  send(client: ClientInfo, event: DistributiveOmit<IngressEvent, 'seq'>): Promise<ReplyCommand>;
  /** Resolves once `count` commands matching `pick` were applied. */
  until(pick: (cmd: Command) => boolean, count: number): Promise<Command[]>;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function client(id: string, nodeId: string, session?: string): ClientInfo {
  const info: ClientInfo = {
    id,
    nodeId,
    data: {},
    rooms: [],
    handshake: { address: '127.0.0.1', time: 0, query: {}, auth: {} },
    user: null,
  };
  if (session) info.session = session;
  return info;
}

/** Resolves once `check` is true, looking again whenever `poke` is called; rejects after WAIT_MS. */
function watcher() {
  const waits = new Set<() => void>();
  return {
    poke: () => {
      for (const wake of waits) wake();
    },
    async until(check: () => boolean, what: string): Promise<void> {
      if (check()) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waits.delete(wake);
          reject(new Error(`timed out waiting for ${what}`));
        }, WAIT_MS);
        const wake = () => {
          if (!check()) return;
          clearTimeout(timer);
          waits.delete(wake);
          resolve();
        };
        waits.add(wake);
      });
    },
  };
}

/**
 * The conformance suite of the two paths through a transport: per-client order with several consumers,
 * join-before-emit across app-nodes, redelivery after a consumer dies, answers to resent events, and
 * recovery (an inbox read on after a dropped connection, room history replayed from a position).
 */
export function describeTransportConformance(name: string, create: () => Promise<TransportHarness>): void {
  describe(`transport conformance: ${name}`, () => {
    let harness: TransportHarness | undefined;
    const apps: SuiteApp[] = [];
    const subscribers: CommandSubscriber[] = [];
    const requesters: Requester[] = [];

    afterEach(async () => {
      await Promise.allSettled(requesters.splice(0).map((r) => r.close()));
      await Promise.allSettled(apps.map((app) => app.consumer.close()));
      await Promise.allSettled(apps.map((app) => app.publisher.close()));
      await Promise.allSettled(subscribers.map((s) => s.close()));
      apps.length = 0;
      subscribers.length = 0;
      await harness?.close();
      harness = undefined;
    });

    async function open(): Promise<TransportHarness> {
      harness = await create();
      return harness;
    }

    async function startApp(
      h: TransportHarness,
      name: string,
      handlers: Record<string, EventHandler>,
      concurrency = 4,
    ): Promise<SuiteApp> {
      const transport = h.commands();
      const publisher = createCommandPublisher(transport, {
        history: { keeps: keepsHistory, limits: { maxLength: 100, ttlMs: 60_000 } },
        logger: silentLogger(),
      });
      const processor = new JobProcessor(
        { handlers: new Map(Object.entries(handlers)), middleware: [] },
        publisher,
        new SeenClients(1_000),
        silentLogger(),
        { handlerTimeoutMs: 10_000, earlierAnswer: (s, eid) => transport.earlierAnswer(s, eid) },
      );
      const consumer = h.consumer(concurrency);
      const app: SuiteApp = { name, consumer, publisher, transport, deliveries: [] };
      apps.push(app);
      await consumer.start(async (delivery) => {
        app.deliveries.push(delivery);
        await processor.run(delivery.job, { jobId: delivery.id });
      });
      return app;
    }

    async function startIoNode(h: TransportHarness, nodeId: string): Promise<SuiteIoNode> {
      const producer = h.producer();
      const subscriber = h.subscriber(nodeId);
      subscribers.push(subscriber);
      const received: Command[] = [];
      const seen = watcher();
      const seqs = new Map<string, number>();
      subscriber.onCommand((cmd) => {
        received.push(cmd);
        seen.poke();
      });
      await subscriber.start();
      const isReply = (cmd: Command, id: string, seq: number): cmd is ReplyCommand =>
        cmd.type === 'reply' && cmd.socketId === id && cmd.seq === seq;
      return {
        nodeId,
        received,
        async send(info, event) {
          const seq = seqs.get(info.id) ?? 0;
          seqs.set(info.id, seq + 1);
          const full = { ...event, seq } as IngressEvent;
          await producer.add([{ v: INGRESS_VERSION, nodeId, batches: [{ client: info, events: [full] }] }]);
          await seen.until(() => received.some((c) => isReply(c, info.id, seq)), `reply ${info.id}#${seq}`);
          return received.find((c): c is ReplyCommand => isReply(c, info.id, seq))!;
        },
        async until(pick, count) {
          await seen.until(() => received.filter(pick).length >= count, `${count} commands`);
          return received.filter(pick);
        },
      };
    }

    const event = (eventName: string, args: unknown[], extra: object = {}) =>
      ({ kind: 'event', name: eventName, args, ack: true, ...extra }) as const;
    const emitsOf = (cmds: Command[], eventName: string) =>
      cmds.filter((c): c is EmitCommand => c.type === 'emit' && c.event === eventName);

    test('order - each client sees its handlers’ emits in the order it sent, over several consumers', async () => {
      const h = await open();
      const io = await startIoNode(h, 'io-1');
      const echo: EventHandler = async (socket, i) => {
        // Handlers of different clients finish out of order (0–3 turns of the event loop, varying by
        // client and event); one client's must not.
        const turns = ((i as number) * 7 + socket.id.charCodeAt(socket.id.length - 1)) % 4;
        for (let t = 0; t < turns; t++) await new Promise((resolve) => setImmediate(resolve));
        socket.emit('echo', i);
        return i;
      };
      const started = await Promise.all(['a', 'b', 'c'].map((n) => startApp(h, n, { echo })));
      const clients = Array.from({ length: 6 }, (_, i) => client(`s${i}`, io.nodeId));
      const perClient = 12;
      await Promise.all(
        clients.map(async (info) => {
          for (let i = 0; i < perClient; i++) {
            expect((await io.send(info, event('echo', [i]))).result).toBe(i);
          }
        }),
      );
      for (const info of clients) {
        const mine = io.received.filter((c) => 'socketId' in c && c.socketId === info.id);
        // Each event's emit comes before its reply, and the next event's emit after that reply.
        expect(
          mine.map((c) => (c.type === 'emit' ? `e${c.args[0]}` : `r${(c as ReplyCommand).seq}`)),
        ).toEqual(Array.from({ length: perClient }, (_, i) => [`e${i}`, `r${i}`]).flat());
      }
      const ran = started.map((app) => app.deliveries.length);
      expect(ran.reduce((n, x) => n + x, 0)).toBe(clients.length * perClient);
      expect(ran.filter((n) => n > 0).length).toBeGreaterThan(1);
    });

    test('join-before-emit - an emit published after a join on another app-node reaches the joined socket after it', async () => {
      const h = await open();
      const [io1, io2] = [await startIoNode(h, 'io-1'), await startIoNode(h, 'io-2')];
      const first = await startApp(h, 'a', {});
      const second = await startApp(h, 'b', {});
      for (let i = 0; i < 5; i++) {
        const room = `room-${i}`;
        first.publisher.publish(io1.nodeId, { type: 'join', socketId: `s${i}`, rooms: [room] });
        await first.publisher.flush();
        new BroadcastOperator(second.publisher).to(room).emit('hello', i);
        await second.publisher.flush();
      }
      const got = await io1.until((c) => c.type === 'join' || c.type === 'emit', 10);
      const roomOf = (c: Command) => (c.type === 'join' || c.type === 'emit' ? c.rooms?.[0] : undefined);
      expect(got.map((c) => `${c.type} ${roomOf(c)}`)).toEqual(
        Array.from({ length: 5 }, (_, i) => [`join room-${i}`, `emit room-${i}`]).flat(),
      );
      // The rooms are counted for io-1 only: io-2 gets none of their emits.
      second.publisher.publish(io2.nodeId, { type: 'custom', name: 'marker', payload: null });
      await second.publisher.flush();
      await io2.until((c) => c.type === 'custom', 1);
      expect(io2.received.map((c) => c.type)).toEqual(['custom']);
    });

    test('redelivery - a job held by a consumer that died runs on another, once, and is answered', async () => {
      const h = await open();
      const io = await startIoNode(h, 'io-1');
      const held = watcher();
      let heldRuns = 0;
      const doomed = await startApp(
        h,
        'doomed',
        {
          work: () => {
            heldRuns++;
            held.poke();
            return new Promise(() => undefined);
          },
        },
        1,
      );
      const info = client('s1', io.nodeId);
      const answered = io.send(info, event('work', ['x']));
      await held.until(() => heldRuns === 1, 'the doomed consumer to take the job');
      expect(doomed.consumer.pending()).toBe(1);
      const holding = await doomed.consumer.backlog();
      expect(holding).toMatchObject({ waiting: 0, active: 1 });
      // The harness runs one partition: it holds the whole backlog.
      expect(holding.partitions).toEqual([{ index: 0, waiting: 0, active: 1, delayed: 0, failed: 0 }]);
      await h.kill(doomed.consumer);
      const survivor = await startApp(h, 'survivor', { work: (_socket, arg) => `done ${String(arg)}` });
      expect((await answered).result).toBe('done x');
      expect(survivor.deliveries).toHaveLength(1);
      expect(survivor.deliveries[0]!.redelivered).toBeGreaterThanOrEqual(1);
      expect(survivor.deliveries[0]!.id).toBe(doomed.deliveries[0]!.id);
      expect(io.received.filter((c) => c.type === 'reply')).toHaveLength(1);
      // Acknowledged once answered: nothing is left pending anywhere.
      await vi.waitFor(async () => {
        expect(survivor.consumer.pending()).toBe(0);
        expect(await survivor.consumer.backlog()).toMatchObject({ waiting: 0, active: 0, failed: 0 });
      });
    });

    test('dedup - a resent event gets its first run’s answer without running its handler again', async () => {
      const h = await open();
      const io = await startIoNode(h, 'io-1');
      let runs = 0;
      await startApp(h, 'a', {
        count: (socket) => {
          runs++;
          socket.emit('counted', runs);
          return runs;
        },
      });
      const info = client('s1', io.nodeId, 'session-1');
      expect((await io.send(info, event('count', [], { eid: 'e1' }))).result).toBe(1);
      // The client reconnected (another socket, same session) and sent e1 again, then a new one.
      const back = client('s2', io.nodeId, 'session-1');
      expect((await io.send(back, event('count', [], { eid: 'e1', resent: true }))).result).toBe(1);
      expect((await io.send(back, event('count', [], { eid: 'e2' }))).result).toBe(2);
      expect(runs).toBe(2);
      expect(emitsOf(io.received, 'counted').map((c) => [c.socketId, c.args[0]])).toEqual([
        ['s1', 1],
        ['s2', 2],
      ]);
    });

    test('recovery - room history replays what a client missed, from its position, in order', async () => {
      const h = await open();
      const io = await startIoNode(h, 'io-1');
      const app = await startApp(h, 'a', {});
      app.publisher.publish(io.nodeId, { type: 'join', socketId: 's1', rooms: ['h:chat', 'plain'] });
      await app.publisher.flush();
      for (let i = 0; i < 5; i++)
        new BroadcastOperator(app.publisher).to(['h:chat', 'plain']).emit('said', i);
      await app.publisher.flush();
      const said = emitsOf(await io.until((c) => c.type === 'emit', 10), 'said');
      const kept = said.filter((c) => c.rooms?.[0] === 'h:chat');
      expect(kept.map((c) => c.history?.offset)).toEqual([1, 2, 3, 4, 5]);
      const epoch = kept[0]!.history!.epoch;
      expect(new Set(kept.map((c) => c.history?.epoch))).toEqual(new Set([epoch]));
      // The other room's copy leaves out the kept room's members, who had it already.
      expect(said.filter((c) => c.rooms?.[0] === 'plain').every((c) => c.except?.includes('h:chat'))).toBe(
        true,
      );
      const missed = await app.transport.history.read('h:chat', { since: { epoch, offset: 2 }, limit: 100 });
      expect(missed.complete).toBe(true);
      expect(missed.entries.map((e) => [e.offset, e.event, e.args])).toEqual([
        [3, 'said', [2]],
        [4, 'said', [3]],
        [5, 'said', [4]],
      ]);
      // A later join learns where the room stands, to deliver on from there.
      app.publisher.publish(io.nodeId, { type: 'join', socketId: 's2', rooms: ['h:chat'] });
      await app.publisher.flush();
      const [, join] = (await io.until((c) => c.type === 'join', 2)) as [unknown, Command];
      expect(join).toMatchObject({ positions: [['h:chat', epoch, 5]] });
    });

    test('recovery - an io-node whose inbox connection drops reads on: every command once, in order', async () => {
      const h = await open();
      const io = await startIoNode(h, 'io-1');
      const app = await startApp(h, 'a', {});
      const total = 60;
      for (let i = 0; i < total; i++) {
        app.publisher.publish(io.nodeId, { type: 'emit', event: 'n', args: [i], socketId: 's1' });
        if (i % 20 === 10) {
          await app.publisher.flush();
          await h.dropReader(io.nodeId);
        }
      }
      await app.publisher.flush();
      const got = await io.until((c) => c.type === 'emit', total);
      expect(got.map((c) => (c as EmitCommand).args[0])).toEqual(Array.from({ length: total }, (_, i) => i));
    });

    test('requests - a selection request goes only to the io-nodes of its rooms, each answers on the reply path; one that does not is named at the timeout', async () => {
      const h = await open();
      const transport = h.commands();
      const applied = new Map<string, Command[]>();
      for (const nodeId of ['io-a', 'io-b', 'io-silent']) {
        const subscriber = h.subscriber(nodeId);
        subscribers.push(subscriber);
        applied.set(nodeId, []);
        subscriber.onCommand((cmd) => {
          applied.get(nodeId)!.push(cmd);
          if (nodeId !== 'io-silent' && cmd.type === 'sockets-join' && cmd.request) {
            void subscriber.reply(cmd.request.replyTo, cmd.request.id, {
              type: 'done',
              count: nodeId.length,
            });
          }
        });
        await subscriber.start();
      }
      await transport.countJoins('io-a', ['team']);
      await transport.countJoins('io-silent', ['quiet']);
      const requester = createRequester(h.replyInbox('suite-app:1'));
      requesters.push(requester);
      await requester.start();
      const publisher = createCommandPublisher(transport, {
        history: { keeps: keepsHistory, limits: { maxLength: 100, ttlMs: 60_000 } },
        logger: silentLogger(),
        requester,
      });
      const join = (rooms: string[]) => (request: { id: string; replyTo: string }) =>
        ({ type: 'sockets-join', select: { rooms }, rooms: ['x'], request }) as Command;

      const one = await publisher.request(null, join(['team']), 5_000);
      expect([...one.replies]).toEqual([['io-a', { type: 'done', count: 4 }]]);
      expect(one.missing).toEqual([]);
      expect(applied.get('io-b')).toEqual([]);

      const started = Date.now();
      const some = await publisher.request(null, join(['team', 'quiet']), 300);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect([...some.replies.keys()]).toEqual(['io-a']);
      expect(some.missing).toEqual(['io-silent']);

      // Sent to one io-node by id: that node answers, whatever the rooms say.
      const direct = await publisher.request('io-b', join(['team']), 5_000);
      expect([...direct.replies]).toEqual([['io-b', { type: 'done', count: 4 }]]);
      expect(applied.get('io-b')!.map((c) => c.type)).toEqual(['sockets-join']);
      expect(requester.pending).toBe(0);
      await publisher.close();
    });
  });
}
