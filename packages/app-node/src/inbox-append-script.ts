import { COMMAND_VERSION, type Command, type Keys, luaScript, type RedisConnection } from '@iocluster/shared';

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
 */
const SOURCE = `
local now, minId, version, head, tail, n = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local live
local function liveNodes()
  if not live then live = redis.call('ZRANGEBYSCORE', KEYS[#KEYS], '(' .. now, '+inf') end
  return live
end
local byRoom, order, perNode = {}, {}, {}
local function add(node, json)
  local list = perNode[node]
  if not list then
    list = {}
    perNode[node] = list
    order[#order + 1] = node
  end
  list[#list + 1] = json
end
for i = 0, n - 1 do
  local kind, target, json = ARGV[7 + i * 3], ARGV[8 + i * 3], ARGV[9 + i * 3]
  if kind == 'n' then
    add(target, json)
  elseif kind == 'a' then
    for _, node in ipairs(liveNodes()) do add(node, json) end
  else
    local seen = {}
    for index in string.gmatch(target, '%d+') do
      local k = tonumber(index)
      local nodes = byRoom[k]
      if not nodes then
        nodes = redis.call('HKEYS', KEYS[k])
        byRoom[k] = nodes
      end
      if #nodes == 0 then nodes = liveNodes() end
      for _, node in ipairs(nodes) do
        if not seen[node] then
          seen[node] = true
          add(node, json)
        end
      end
    end
  end
end
-- The node id inside the inbox key's hash tag is escaped as keys.ts escapeTag does.
local escapes = { ['%'] = '%25', ['{'] = '%7B', ['}'] = '%7D' }
local gone = {}
for _, node in ipairs(order) do
  local key = head .. (string.gsub(node, '[%%{}]', escapes)) .. tail
  local envelope = '{"v":' .. version .. ',"cmds":[' .. table.concat(perNode[node], ',') .. ']}'
  if not redis.call('XADD', key, 'NOMKSTREAM', 'MINID', '~', minId, '*', 'c', envelope) then
    gone[#gone + 1] = node
  end
end
return gone
`;

const script = luaScript(SOURCE);

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
  const gone = (await script.run(
    redis,
    [...roomKeys, keys.inboxNodes],
    // Broadcasts still reach a node whose heartbeat stopped less than the inbox retention ago: it may be
    // cut off, not dead, and its inbox keeps them for it (see RoutingTable).
    [minId, minId, COMMAND_VERSION, head, tail, routed.length, ...args],
  )) as string[];
  return gone;
}
