import { setImmediate as nextTurn } from 'node:timers/promises';
import { type ClientInfo, type IngressJob, silentLogger } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import { EventSequencer } from '../../src/event-sequencer.js';
import type { IngressProducer } from '../../src/ingress-queue.js';

const client: ClientInfo = {
  id: 's1',
  nodeId: 'io-1',
  data: {},
  rooms: [],
  handshake: { address: '127.0.0.1', time: 0, query: {}, auth: {} },
  user: null,
};

let sequencer: EventSequencer | undefined;

const baseOptions = {
  nodeId: 'io-1',
  logger: silentLogger(),
  ordering: true,
  batchMaxEvents: 256,
  eventTimeoutMs: 30_000,
  maxQueuedPerClient: 100,
  maxPendingEvents: 100_000,
  maxJobsInFlight: 32,
};
afterEach(() => sequencer?.close());

const events = (jobs: IngressJob[]) =>
  jobs.flatMap((job) => job.batches.flatMap((b) => b.events.map((e) => e.seq)));

describe('event sequencer', () => {
  test('sequencer - past maxPendingEvents the node refuses events with OVERLOADED and keeps the others', async () => {
    let release: () => void = () => undefined;
    const jobs: IngressJob[] = [];
    // A queue that does not accept anything yet: Redis unreachable.
    const producer: IngressProducer = {
      add: (added) =>
        new Promise((resolve) => {
          release = () => {
            jobs.push(...added);
            resolve();
          };
        }),
      // No app-node consumes them: whatever the queue took is still waiting.
      waiting: async () => jobs.length,
      close: async () => undefined,
    };
    const seq = new EventSequencer({ ...baseOptions, producer, maxPendingEvents: 4 });
    sequencer = seq;
    seq.open('s1', () => client);
    await nextTurn();
    const answers: unknown[] = [];
    const accepted = ['a', 'b', 'c', 'd', 'e'].map((name) =>
      seq.event('s1', name, [], false, (answer) => answers.push([name, answer])),
    );
    expect(accepted).toEqual([true, true, true, false, false]);
    expect(answers).toEqual([
      [
        'd',
        { error: { code: 'OVERLOADED', message: 'this io-node has too many events waiting; retry later' } },
      ],
      [
        'e',
        { error: { code: 'OVERLOADED', message: 'this io-node has too many events waiting; retry later' } },
      ],
    ]);
    release();
    await nextTurn();
    seq.reply({ type: 'reply', socketId: 's1', seq: 0 });
    await nextTurn();
    release();
    await nextTurn();
    expect(events(jobs)).toEqual([0, 1, 2, 3]);
  });
});
