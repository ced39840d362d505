import type { ClientInfo, Command, CommandPublisher, IngressJob, ReplyCommand } from '@iocluster/shared';
import { deferred, silentLogger } from '@iocluster/shared';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { fencedPublisher, runFenced } from '../../src/handler-fence.js';
import { type EventHandler, JobProcessor } from '../../src/job-processor.js';
import { SeenClients } from '../../src/seen-clients.js';

/** A publisher that records what reaches it, in order. */
function recordingPublisher() {
  const sent: (Command | ReplyCommand)[] = [];
  const publisher: CommandPublisher = {
    publish: (_nodeId, cmd) => {
      sent.push(cmd);
      return [];
    },
    reply: (_nodeId, cmd) => void sent.push(cmd),
    request: () => Promise.reject(new Error('no reply path here')),
    position: () => 0,
    flush: () => Promise.resolve(),
    acknowledge: () => () => false,
    close: () => Promise.resolve(),
  };
  return { sent, publisher };
}

const client: ClientInfo = {
  id: 's1',
  nodeId: 'io-1',
  data: {},
  rooms: [],
  handshake: { address: '127.0.0.1', time: 0, query: {}, auth: {} },
  user: null,
};

function job(deadline: number | undefined, ...names: string[]): IngressJob {
  return {
    v: 1,
    nodeId: 'io-1',
    batches: [
      {
        client,
        events: names.map((name, seq) => ({ seq, kind: 'event' as const, name, args: [], ack: true })),
        ...(deadline === undefined ? {} : { deadline }),
      },
    ],
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('handler fence', () => {
  test('fence - a run past its limit is answered TIMEOUT, and what it publishes afterwards is dropped', async () => {
    const { sent, publisher } = recordingPublisher();
    const fenced = fencedPublisher(publisher, silentLogger());
    let finish = () => {};
    const run = runFenced(
      { event: 'slow', socketId: 's1', seq: 0, limitMs: 100, timeoutMessage: 'too slow' },
      async () => {
        fenced.publish('io-1', { type: 'emit', event: 'before', args: [] });
        await new Promise<void>((resolve) => {
          finish = resolve;
        });
        fenced.publish('io-1', { type: 'emit', event: 'after', args: [] });
      },
    );
    const outcome = run.catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(100);
    expect(await outcome).toMatchObject({ code: 'TIMEOUT', message: 'too slow' });
    finish();
    await vi.advanceTimersByTimeAsync(20);
    // Outside any run, publishing is untouched.
    fenced.publish('io-1', { type: 'emit', event: 'outside', args: [] });
    expect(sent.map((cmd) => (cmd.type === 'emit' ? cmd.event : cmd.type))).toEqual(['before', 'outside']);
  });

  test('fence - timers follow their run: a late one of a cut-off run is dropped, one of a finished run kept', async () => {
    // Real timers: Node's carry the run's context into their callbacks (the fake ones do not).
    vi.useRealTimers();
    const { sent, publisher } = recordingPublisher();
    const fenced = fencedPublisher(publisher, silentLogger());
    const fired: string[] = [];
    const later = (event: string) =>
      setTimeout(() => {
        fenced.publish('io-1', { type: 'emit', event, args: [] });
        fired.push(event);
      }, 30);
    const cut = runFenced({ event: 'cut', socketId: 's1', seq: 0, limitMs: 10, timeoutMessage: 'x' }, () => {
      later('from-cut');
      return new Promise(() => {});
    });
    await expect(cut).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(
      await runFenced({ event: 'quick', socketId: 's1', seq: 1, limitMs: 1_000, timeoutMessage: 'x' }, () => {
        later('from-quick');
        return 42;
      }),
    ).toBe(42);
    await vi.waitFor(() => expect(fired).toHaveLength(2));
    expect(sent.map((cmd) => (cmd.type === 'emit' ? cmd.event : cmd.type))).toEqual(['from-quick']);
  });

  test('fence - a request from a run (an ack awaited) ends by the run’s deadline; outside a run it is untouched', async () => {
    vi.useRealTimers();
    const { publisher } = recordingPublisher();
    const asked: [wait: number, margin: number][] = [];
    const fenced = fencedPublisher(
      {
        ...publisher,
        request: (_nodeId, _build, waitMs, marginMs = 0) => {
          asked.push([waitMs, marginMs]);
          return Promise.resolve({ replies: new Map(), missing: [] });
        },
      },
      silentLogger(),
    );
    const build = (request: { id: string; replyTo: string }): Command => ({
      type: 'fetch-sockets',
      select: {},
      request,
    });
    await runFenced({ event: 'ask', socketId: 's1', seq: 0, limitMs: 1_000, timeoutMessage: 'x' }, () =>
      fenced.request('io-1', build, 60_000, 2_000),
    );
    const [[wait, margin]] = asked as [[number, number]];
    expect(wait).toBeGreaterThan(900);
    expect(wait + margin).toBeLessThanOrEqual(1_000);
    await fenced.request('io-1', build, 60_000, 2_000);
    expect(asked[1]).toEqual([60_000, 2_000]);
    // A run already cut off asks nothing: its request is refused TIMEOUT at once.
    let late: Promise<unknown> | undefined;
    // The handler goes on only once its run was cut off.
    const pastLimit = deferred();
    const cut = runFenced(
      { event: 'cut', socketId: 's1', seq: 1, limitMs: 10, timeoutMessage: 'x' },
      async () => {
        await pastLimit.promise;
        late = fenced.request('io-1', build, 60_000);
        await late.catch(() => undefined);
      },
    );
    await expect(cut).rejects.toMatchObject({ code: 'TIMEOUT' });
    pastLimit.resolve();
    await vi.waitFor(() => expect(late).toBeDefined());
    await expect(late).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(asked).toHaveLength(2);
  });

  test('fence - a run with no time left does not run at all', async () => {
    const fn = vi.fn();
    await expect(
      runFenced({ event: 'e', socketId: 's1', seq: 0, limitMs: 0, timeoutMessage: 'none left' }, fn),
    ).rejects.toMatchObject({ code: 'TIMEOUT', message: 'none left' });
    expect(fn).not.toHaveBeenCalled();
  });
});

describe('job processor deadline', () => {
  function processor(handlers: Record<string, EventHandler>, handlerTimeoutMs = 25_000) {
    const { sent, publisher } = recordingPublisher();
    const seen = new SeenClients(10);
    seen.add(client.id);
    const jobs = new JobProcessor(
      { handlers: new Map(Object.entries(handlers)), middleware: [] },
      fencedPublisher(publisher, silentLogger()),
      seen,
      silentLogger(),
      { handlerTimeoutMs, earlierAnswer: () => Promise.resolve(null) },
    );
    return { sent, jobs };
  }

  test('deadline - the batch deadline cuts a handler before its own timeout; the rest of the batch is not run', async () => {
    const ran: string[] = [];
    // Released once the deadline has cut the handler off: what it does then must be fenced.
    const released = deferred();
    const { sent, jobs } = processor({
      slow: async (socket) => {
        ran.push('slow');
        await released.promise;
        socket.emit('late');
      },
      next: () => void ran.push('next'),
    });
    const done = jobs.run(job(Date.now() + 900, 'slow', 'next'), { jobId: '1' });
    await vi.advanceTimersByTimeAsync(899);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await done;
    expect(sent).toEqual([
      {
        type: 'reply',
        socketId: 's1',
        seq: 0,
        error: { code: 'TIMEOUT', message: `handler for "slow" did not finish by its io-node's deadline` },
      },
      {
        type: 'reply',
        socketId: 's1',
        seq: 1,
        error: { code: 'TIMEOUT', message: "not run: past its io-node's deadline" },
      },
    ]);
    released.resolve();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(ran).toEqual(['slow']);
    expect(sent).toHaveLength(2);
  });

  test('deadline - far off, the handler timeout applies; no deadline, it alone', async () => {
    const { sent, jobs } = processor({ hang: () => new Promise(() => {}) }, 200);
    const far = jobs.run(job(Date.now() + 60_000, 'hang'), { jobId: '1' });
    await vi.advanceTimersByTimeAsync(200);
    await far;
    const none = jobs.run(job(undefined, 'hang'), { jobId: '2' });
    await vi.advanceTimersByTimeAsync(200);
    await none;
    const timeout = { code: 'TIMEOUT', message: 'handler for "hang" did not finish within 200 ms' };
    expect(sent).toEqual([
      { type: 'reply', socketId: 's1', seq: 0, error: timeout },
      { type: 'reply', socketId: 's1', seq: 0, error: timeout },
    ]);
  });
});
