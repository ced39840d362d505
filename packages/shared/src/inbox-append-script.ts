import type { Keys } from './keys.js';
import { loadLuaScript } from './lua-script.js';
import type { RedisConnection } from './redis.js';
import type { IngressAcknowledgement } from './transport/ingress.js';
import { COMMAND_VERSION, type Command } from './wire/commands.js';

/**
 * One delivery of the command publisher in ONE round trip, on a standalone Redis (or Sentinel primary):
 * a Lua script looks the rooms' io-nodes and the live io-nodes up and appends each node's commands to
 * its inbox, where the publisher's general path takes two (look up, then append). Each command is
 * JSON-encoded once here, not once per io-node. Inbox keys are built inside the script, so it cannot run
 * on a Redis Cluster (they are in other slots than the room keys): the publisher uses it only off a
 * Cluster, and only for deliveries without joins, history appends or remembered answers, which need
 * their own steps first.
 *
 * Same routing as the general path: a room emit goes to the io-nodes counted for its rooms (every live
 * io-node for a room no node counts), commands for one node keep their order, replies come last.
 *
 * It also acknowledges the ingress entries whose jobs' last commands it carries, after the appends and
 * in the same atomic step: one round trip per delivery instead of two (append, then `XACK`), and never
 * an entry acknowledged without its commands, nor commands appended for an entry left pending by a
 * successful script.
 */
const script = loadLuaScript(import.meta.url, 'inbox-append-routed');

/** A command and where it goes: one io-node, the io-nodes of its rooms, or every live io-node. */
export type Routed =
  | { cmd: Command; node: string }
  | { cmd: Command; rooms: readonly string[] }
  | { cmd: Command };

/** Runs one delivery; resolves with the io-nodes whose inbox was gone (they were purged). */
export async function appendRouted(
  redis: RedisConnection,
  keys: Keys,
  routed: readonly Routed[],
  minId: number,
  acks: readonly IngressAcknowledgement[] = [],
  /** Where the script's source is sent when Redis lacks it (`redis` is a lane, blocked behind its next read). */
  evalOn: RedisConnection = redis,
): Promise<string[]> {
  const roomKeys: string[] = [];
  const roomIndex = new Map<string, number>();
  const args: (string | number)[] = [];
  for (const entry of routed) {
    const json = JSON.stringify(entry.cmd);
    if ('node' in entry) args.push('n', entry.node, json);
    else if ('rooms' in entry) {
      const indexes = entry.rooms.map((room) => {
        let index = roomIndex.get(room);
        if (index === undefined) {
          roomKeys.push(keys.roomNodes(room));
          index = roomKeys.length;
          roomIndex.set(room, index);
        }
        return index;
      });
      args.push('r', indexes.join(','), json);
    } else args.push('a', '', json);
  }
  // The inbox key of node X is `<head>X<tail>`, cut from keys.ts around a character no prefix holds.
  const [head, tail] = keys.inbox('\u0001').split('\u0001') as [string, string];
  // Acknowledgements name their stream by its index among the keys, after the rooms'.
  const streamKeys: string[] = [];
  for (const ack of acks) {
    let index = streamKeys.indexOf(ack.stream);
    if (index < 0) index = streamKeys.push(ack.stream) - 1;
    args.push(roomKeys.length + index + 1, ack.group, ack.id);
  }
  const gone = (await script.run(
    redis,
    [...roomKeys, ...streamKeys, keys.inboxNodes],
    // Broadcasts still reach a node whose heartbeat stopped less than the inbox retention ago: it may be
    // cut off, not dead, and its inbox keeps them for it (see RoutingTable).
    [minId, minId, COMMAND_VERSION, head, tail, routed.length, acks.length, ...args],
    evalOn,
  )) as string[];
  return gone;
}
