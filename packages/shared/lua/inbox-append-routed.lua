--[[
  One delivery of the command publisher in one round trip: looks the rooms' io-nodes (and the live
  io-nodes) up and appends each io-node's commands to its inbox as one envelope. Inbox keys are built
  here, so it cannot run on a Redis Cluster. Each append is also published on the inbox's own name as
  `<previous entry id> <entry id> <envelope>` (see inbox-append.lua): the io-node applies it from there.

  KEYS[1...] the rooms' io-nodes hashes (node id -> members there), none or more, then the ingress
  streams of the entries to acknowledge, none or more, then, last, the inbox-nodes sorted set (node id
  scored by its expiry, ms)
  ARGV[1] ms: io-nodes whose expiry is later receive broadcasts (their inbox is still kept)
  ARGV[2] MINID the inboxes are trimmed to (approximately)
  ARGV[3] the command envelope version
  ARGV[4] the inbox key before the node id
  ARGV[5] the inbox key after the node id
  ARGV[6] n, the number of routed commands
  ARGV[7] m, the number of ingress entries to acknowledge once every append is made
  ARGV[8...] n triples: kind ('n' one node, 'r' rooms, 'a' all), target (node id, or comma-separated
  KEYS indexes of rooms, or empty), the command JSON; then m triples: the KEYS index of the entry's
  stream, its consumer group, its id
  Returns the io-nodes whose inbox was gone (they were purged)
]]
local now, minId, version, head, tail = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local n, m = tonumber(ARGV[6]), tonumber(ARGV[7])
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
  local kind, target, json = ARGV[8 + i * 3], ARGV[9 + i * 3], ARGV[10 + i * 3]
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
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
  local id = redis.call('XADD', key, 'NOMKSTREAM', 'MINID', '~', minId, '*', 'c', envelope)
  if id then
    redis.call('PUBLISH', key, (last and last[1] or '0-0') .. ' ' .. id .. ' ' .. envelope)
  else
    gone[#gone + 1] = node
  end
end
-- Last: an error above (the script stops) leaves every entry pending, to be run again.
for i = 0, m - 1 do
  local at = 8 + n * 3 + i * 3
  redis.call('XACK', KEYS[tonumber(ARGV[at])], ARGV[at + 1], ARGV[at + 2])
end
return gone
