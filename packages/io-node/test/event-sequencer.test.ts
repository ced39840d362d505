import { setImmediate as nextTurn } from 'node:timers/promises';
import { type ClientInfo, type IngressJob, silentLogger } from '@iocluster/shared';
import { afterEach, describe, expect, test } from 'vitest';
import { EventSequencer } from '../src/event-sequencer.js';
import type { IngressProducer } from '../src/ingress-queue.js';

const client: ClientInfo = {
  id: 's1',
  nodeId: 'io-1',
  data: {},
  rooms: [],
  handshake: { address: '127.0.0.1', time: 0, query: {}, auth: {} },
  user: null,
};

let sequencer: EventSequencer | undefined;
afterEach(() => sequencer?.close());

function create(): { sequencer: EventSequencer; jobs: IngressJob[] } {
  const jobs: IngressJob[] = [];
  const producer: IngressProducer = {
    add: async (added) => {
      jobs.push(...added);
    },
    close: async () => undefined,
  };
  sequencer = new EventSequencer({
    nodeId: 'io-1',
    producer,
    logger: silentLogger(),
    ordering: true,
    batchMaxEvents: 256,
    eventTimeoutMs: 30_000,
    maxQueuedPerClient: 100,
    maxJobsInFlight: 32,
  });
  return { sequencer, jobs };
}

const events = (jobs: IngressJob[]) =>
  jobs.flatMap((job) => job.batches.flatMap((b) => b.events.map((e) => e.seq)));

describe('event sequencer', () => {
  test('sequencer - while paused (command subscription down) events wait, then leave together in order', async () => {
    const { sequencer, jobs } = create();
    sequencer.open('s1', () => client);
    await nextTurn();
    expect(events(jobs)).toEqual([0]);
    sequencer.reply({ type: 'reply', socketId: 's1', seq: 0 });

    sequencer.setPaused(true);
    sequencer.event('s1', 'a', [], false, undefined);
    sequencer.event('s1', 'b', [], false, undefined);
    await nextTurn();
    await nextTurn();
    expect(events(jobs)).toEqual([0]);

    sequencer.setPaused(false);
    await nextTurn();
    expect(jobs).toHaveLength(2);
    expect(events(jobs)).toEqual([0, 1, 2]);
  });

  test('sequencer - pausing after a flush was scheduled still holds the events', async () => {
    const { sequencer, jobs } = create();
    sequencer.open('s1', () => client);
    sequencer.setPaused(true);
    await nextTurn();
    expect(jobs).toEqual([]);
    sequencer.setPaused(false);
    await nextTurn();
    expect(events(jobs)).toEqual([0]);
  });
});
