import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  type ClientInfo,
  createMemoryClientStates,
  type IngressJob,
  type MemoryClientStates,
  silentLogger,
} from '@iocluster/shared';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ClientStateSync, stateWrites } from '../../src/client-state-sync.js';
import { EventSequencer } from '../../src/event-sequencer.js';
import type { IngressProducer } from '../../src/ingress-queue.js';

const TTL_MS = 60_000;

function socket(id: string): { info: ClientInfo; describe: () => ClientInfo } {
  const info: ClientInfo = {
    id,
    nodeId: 'io-1',
    data: {},
    rooms: [],
    handshake: { address: '127.0.0.1', time: 0, query: {}, auth: { token: 'x'.repeat(500) } },
    user: { sub: 'ann' },
  };
  return { info, describe: () => ({ ...info, rooms: [...info.rooms] }) };
}

function sync(store: MemoryClientStates, clock = { now: 0 }) {
  return new ClientStateSync({
    store,
    ttlMs: TTL_MS,
    keepAfterEndMs: 5_000,
    logger: silentLogger(),
    now: () => clock.now,
  });
}

/** One batch going out: what it carries, and its writes committed. */
async function send(states: ClientStateSync, id: string, describe: () => ClientInfo) {
  const writes = stateWrites();
  const client = states.take(id, describe, writes);
  await states.commit(writes);
  return client;
}

let sequencer: EventSequencer | undefined;
afterEach(() => sequencer?.close());

describe('client state sync', () => {
  test('versions - a new state goes inline once, is stored when named a second time, then only named', async () => {
    const store = createMemoryClientStates();
    const states = sync(store);
    const { info, describe } = socket('s1');
    expect(await send(states, 's1', describe)).toEqual({ ...info, v: 1 });
    expect(store.writes).toBe(0);
    expect(await send(states, 's1', describe)).toEqual({ id: 's1', v: 1 });
    expect(store.writes).toBe(1);
    expect(await store.read(['s1'])).toEqual([{ ...info, v: 1 }]);
    expect(await send(states, 's1', describe)).toEqual({ id: 's1', v: 1 });
    expect(store.writes).toBe(1);
    // A join applied: the next batch carries version 2 inline, the one after stores it.
    info.rooms.push('r');
    states.changed('s1');
    expect(await send(states, 's1', describe)).toEqual({ ...info, v: 2 });
    expect(await send(states, 's1', describe)).toEqual({ id: 's1', v: 2 });
    expect(await store.read(['s1'])).toEqual([{ ...info, v: 2 }]);
    expect(store.writes).toBe(2);
  });

  test('versions - a state that changes before every batch is never stored', async () => {
    const store = createMemoryClientStates();
    const states = sync(store);
    const { info, describe } = socket('s1');
    for (let n = 1; n <= 5; n++) {
      info.data = { n };
      states.changed('s1');
      expect(await send(states, 's1', describe)).toMatchObject({ v: n, data: { n } });
    }
    expect(store.writes).toBe(0);
  });

  test('versions - a stored state is written again past half its lifetime, and when the store may have lost it', async () => {
    const store = createMemoryClientStates();
    const clock = { now: 1_000 };
    const states = sync(store, clock);
    const { describe } = socket('s1');
    await send(states, 's1', describe);
    await send(states, 's1', describe);
    expect(store.writes).toBe(1);
    clock.now += TTL_MS / 2 - 1;
    await send(states, 's1', describe);
    expect(store.writes).toBe(1);
    clock.now += 1;
    expect(await send(states, 's1', describe)).toEqual({ id: 's1', v: 1 });
    expect(store.writes).toBe(2);
    // Redis restarted: the epoch moved on, and the next batch writes the state before naming it.
    store.clear();
    expect(await send(states, 's1', describe)).toEqual({ id: 's1', v: 1 });
    expect(await store.read(['s1'])).toEqual([expect.objectContaining({ id: 's1', v: 1 })]);
  });

  test('versions - a batch naming a state whose write is under way waits for it', async () => {
    const store = createMemoryClientStates();
    let release: () => void = () => undefined;
    const slow = {
      ...store,
      get epoch() {
        return store.epoch;
      },
      write: (list: Parameters<MemoryClientStates['write']>[0], ttl: number) =>
        new Promise<void>((resolve) => {
          release = () => void store.write(list, ttl).then(resolve);
        }),
    };
    const states = new ClientStateSync({
      store: slow,
      ttlMs: TTL_MS,
      keepAfterEndMs: 0,
      logger: silentLogger(),
    });
    const { describe } = socket('s1');
    await send(states, 's1', describe);
    const first = stateWrites();
    states.take('s1', describe, first);
    const writing = states.commit(first);
    const second = stateWrites();
    expect(states.take('s1', describe, second)).toEqual({ id: 's1', v: 1 });
    expect(second.states.size).toBe(0);
    let added = false;
    const adding = states.commit(second)?.then(() => {
      added = true;
    });
    await nextTurn();
    expect(added).toBe(false);
    release();
    await Promise.all([writing, adding]);
    expect(added).toBe(true);
  });

  test('versions - a gone client goes inline with its last state; what was stored expires soon', async () => {
    const store = createMemoryClientStates();
    const clock = { now: 0 };
    vi.spyOn(store, 'expire');
    const states = sync(store, clock);
    const { info, describe } = socket('s1');
    await send(states, 's1', describe);
    await send(states, 's1', describe);
    info.data = { bye: true };
    states.changed('s1');
    expect(states.final('s1', describe())).toEqual({ ...info, v: 2 });
    expect(store.expire).toHaveBeenCalledWith(['s1'], 5_000);
    expect(states.size).toBe(0);
    // A client gone before any of its states was stored leaves nothing to expire.
    const other = socket('s2');
    await send(states, 's2', other.describe);
    expect(states.final('s2', other.describe())).toEqual({ ...other.info, v: 1 });
    expect(store.expire).toHaveBeenCalledTimes(1);
  });
});

describe('event sequencer with client states', () => {
  function setup() {
    const store = createMemoryClientStates();
    const jobs: IngressJob[] = [];
    const storedWhenAdded: boolean[] = [];
    const producer: IngressProducer = {
      add: async (added) => {
        // Every state a job names by version is readable when the job goes in.
        for (const job of added) {
          for (const { client } of job.batches) {
            if ('handshake' in client) continue;
            const [read] = await store.read([client.id]);
            storedWhenAdded.push(read?.v === client.v);
          }
        }
        jobs.push(...added);
      },
      waiting: async () => 0,
      close: async () => undefined,
    };
    const states = sync(store);
    sequencer = new EventSequencer({
      nodeId: 'io-1',
      logger: silentLogger(),
      ordering: true,
      batchMaxEvents: 256,
      eventTimeoutMs: 30_000,
      maxQueuedPerClient: 100,
      maxPendingEvents: 100_000,
      maxJobsInFlight: 32,
      producer,
      clientStates: states,
    });
    return { seq: sequencer, jobs, store, storedWhenAdded };
  }

  test('sequencer - batches name their client by version once stored, and a resend goes again inline in order', async () => {
    const { seq, jobs, store, storedWhenAdded } = setup();
    const { info, describe } = socket('s1');
    seq.open('s1', describe);
    await vi.waitFor(() => expect(jobs).toHaveLength(1));
    seq.reply({ type: 'reply', socketId: 's1', seq: 0 });
    const answers: unknown[] = [];
    seq.event('s1', 'a', [], false, (answer) => answers.push(['a', answer]));
    seq.event('s1', 'b', [], false, (answer) => answers.push(['b', answer]));
    await vi.waitFor(() => expect(jobs).toHaveLength(2));
    expect(jobs.map((job) => job.batches[0]!.client)).toEqual([
      { ...info, v: 1 },
      { id: 's1', v: 1 },
    ]);
    expect(storedWhenAdded).toEqual([true]);
    // The app-node could not find it (Redis lost it): both events go again, with the state inline.
    store.delete('s1');
    seq.reply({ type: 'reply', socketId: 's1', seq: 1, resend: true });
    seq.event('s1', 'c', [], false, (answer) => answers.push(['c', answer]));
    seq.reply({ type: 'reply', socketId: 's1', seq: 2, resend: true });
    await vi.waitFor(() => expect(jobs).toHaveLength(3));
    expect(jobs[2]!.batches[0]!.client).toEqual({ ...info, v: 2 });
    expect(jobs[2]!.batches[0]!.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(answers).toEqual([]);
    for (const n of [1, 2, 3]) seq.reply({ type: 'reply', socketId: 's1', seq: n, result: n });
    expect(answers).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    expect(seq.pending).toBe(0);
  });
});
