import { afterEach, describe, expect, test, vi } from 'vitest';
import { requestTargets } from '../../src/command-plan.js';
import { createRequester } from '../../src/requests.js';
import { createMemoryCommandPath } from '../../src/transport/memory-commands.js';
import { type Command, decodeCommandEnvelope, encodeCommandEnvelope } from '../../src/wire/commands.js';
import { decodeNodeReply, encodeNodeReply } from '../../src/wire/replies.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('requests', () => {
  test('requests - resolves once every expected io-node answered, keeping answers that came before expect()', async () => {
    const path = createMemoryCommandPath();
    const [a, b] = [path.subscriber('io-a'), path.subscriber('io-b')];
    await Promise.all([a.start(), b.start()]);
    const requester = createRequester(path.replyInbox('app-1:x'));
    await requester.start();
    const pending = requester.open(10_000);
    expect(pending.ref).toEqual({ id: '1', replyTo: 'app-1:x' });
    await a.reply('app-1:x', pending.ref.id, { type: 'done', count: 2 });
    await new Promise((resolve) => setImmediate(resolve));
    pending.expect(['io-a', 'io-b']);
    expect(requester.pending).toBe(1);
    await b.reply('app-1:x', pending.ref.id, { type: 'done', count: 3 });
    const outcome = await pending.outcome;
    expect([...outcome.replies]).toEqual([
      ['io-a', { type: 'done', count: 2 }],
      ['io-b', { type: 'done', count: 3 }],
    ]);
    expect(outcome.missing).toEqual([]);
    expect(requester.pending).toBe(0);
    await requester.close();
    await Promise.all([a.close(), b.close()]);
  });

  test('requests - at the timeout it resolves with the io-nodes that did not answer; no target resolves at once; a request never sent rejects', async () => {
    vi.useFakeTimers();
    const path = createMemoryCommandPath();
    const requester = createRequester(path.replyInbox('app-1:y'));
    await requester.start();
    const silent = requester.open(500);
    silent.expect(['io-dead']);
    const none = requester.open(500);
    none.expect([]);
    expect(await none.outcome).toEqual({ replies: new Map(), missing: [] });
    const unsent = requester.open(500);
    const rejected = expect(unsent.outcome).rejects.toMatchObject({ code: 'TIMEOUT' });
    await vi.advanceTimersByTimeAsync(499);
    expect(requester.pending).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(await silent.outcome).toEqual({ replies: new Map(), missing: ['io-dead'] });
    await rejected;
    const failed = requester.open(500);
    failed.fail(new Error('redis down'));
    await expect(failed.outcome).rejects.toThrow('redis down');
    await requester.close();
    await expect(requester.open(10).outcome).rejects.toMatchObject({ code: 'NODE_CLOSING' });
  });

  test('requests - the planner tells each request the io-nodes it went to, less those without an inbox', () => {
    const ref = { id: '7', replyTo: 'app' };
    const fetch: Command = { type: 'fetch-sockets', select: { rooms: ['r'] }, request: ref };
    const emit: Command = { type: 'emit', event: 'e', args: [] };
    const targets = requestTargets(
      new Map([
        ['io-a', [emit, fetch]],
        ['io-b', [fetch]],
        ['io-gone', [fetch]],
        ['io-c', [emit]],
      ]),
      ['io-gone'],
    );
    expect([...targets]).toEqual([['7', { ref, nodes: ['io-a', 'io-b'] }]]);
  });

  test('requests - selection commands and replies survive the wire; malformed ones are refused with the path', () => {
    const request = { id: '1', replyTo: 'app-1:z' };
    const cmds: Command[] = [
      { type: 'sockets-join', select: { rooms: ['a'], except: ['s1'] }, rooms: ['b'], request },
      { type: 'sockets-leave', select: {}, rooms: ['b'] },
      { type: 'sockets-disconnect', select: { rooms: ['$user:u'] }, close: true, reason: 'bye', request },
      { type: 'fetch-sockets', select: { rooms: ['a'] }, request },
      { type: 'emit-ack', event: 'q', args: [1], socketId: 's1', timeoutMs: 100, request },
    ];
    expect(decodeCommandEnvelope(encodeCommandEnvelope(cmds))).toEqual({ cmds, errors: [] });
    const bad = decodeCommandEnvelope(
      JSON.stringify({
        v: 1,
        cmds: [
          { type: 'emit-ack', event: 'q', args: [], timeoutMs: 100, request },
          { type: 'fetch-sockets', select: { rooms: 'a' }, request },
          { type: 'emit-ack', event: 'q', args: [], socketId: 's', timeoutMs: 10_000_000, request },
        ],
      }),
    );
    expect(bad.cmds).toEqual([]);
    expect(bad.errors.map((e) => e.message)).toEqual([
      'envelope.cmds[0] must target either a socket or a selection',
      'envelope.cmds[1].select.rooms must be an array of strings',
      'envelope.cmds[2].timeoutMs is above 600000',
    ]);
    const raw = encodeNodeReply('1', 'io-a', {
      type: 'acks',
      answers: [{ socketId: 's1', args: ['yes'] }],
      missing: ['s2'],
    });
    expect(decodeNodeReply(raw)).toEqual({
      v: 1,
      id: '1',
      node: 'io-a',
      result: { type: 'acks', answers: [{ socketId: 's1', args: ['yes'] }], missing: ['s2'] },
    });
    expect(() => decodeNodeReply('{"v":1,"id":"1","node":"n","result":{"type":"nope"}}')).toThrow(
      'reply.result.type "nope" is not a known reply',
    );
  });
});
