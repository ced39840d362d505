--[[
  Appends one envelope of commands to an io-node's inbox and publishes it on the inbox's own name (a
  pub/sub channel, not a key) as `<previous entry id> <entry id> <envelope>`. The io-node applies each
  push whose previous id is the last entry it applied; any other one shows a gap (a push it missed),
  which it fills by reading the Stream, the record. NOMKSTREAM: a purged inbox is never recreated.

  On a Redis Cluster the push is a sharded one (SPUBLISH, Redis >= 7): only the shard that holds the
  inbox carries it, where a PUBLISH goes to every node of the cluster. The channel is the inbox's name,
  so it is in the script's slot. A server without SPUBLISH publishes as before (the io-node then finds
  SSUBSCRIBE missing too and subscribes plainly).

  KEYS[1] the inbox stream
  ARGV[1] MINID the inbox is trimmed to (approximately)
  ARGV[2] the command envelope
  ARGV[3] 's' to publish sharded (on a Cluster), absent otherwise
  Returns the entry's id, or nil when the inbox was gone
]]
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local id = redis.call('XADD', KEYS[1], 'NOMKSTREAM', 'MINID', '~', ARGV[1], '*', 'c', ARGV[2])
if id then
  local push = (last and last[1] or '0-0') .. ' ' .. id .. ' ' .. ARGV[2]
  local sent = ARGV[3] == 's' and redis.pcall('SPUBLISH', KEYS[1], push)
  if not sent or type(sent) == 'table' then redis.call('PUBLISH', KEYS[1], push) end
end
return id
