--[[
  Writes one node's liveness record: its member in the index scored by its expiry and, while it takes
  connections, its hash. Optionally drops members expired long ago, and expires the records of the nodes
  this one replaces (a restart on the same URL: their process is gone), removing their hashes. With no
  fields the hash goes: the node is live but takes no connections (starting, or draining).

  KEYS[1] the liveness index (node id scored by its expiry, ms)
  KEYS[2] this node's record hash
  KEYS[3...] the record hashes of the nodes it replaces, as many as ARGV[6] says
  ARGV[1] node id
  ARGV[2] now, ms
  ARGV[3] the new expiry, ms
  ARGV[4] the hash's TTL, ms
  ARGV[5] drop index members expired at or before this (ms), or '' for none
  ARGV[6] n, the number of replaced nodes
  ARGV[7...] n replaced node ids, then the record's field/value pairs
  Returns the expiry the member had before, or nil when it was not in the index
]]
local previous = redis.call('ZSCORE', KEYS[1], ARGV[1])
if ARGV[5] ~= '' then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[5]) end
local n = tonumber(ARGV[6])
for i = 1, n do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[6 + i])
  if score and tonumber(score) > tonumber(ARGV[2]) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[6 + i]) end
  redis.call('DEL', KEYS[2 + i])
end
redis.call('DEL', KEYS[2])
if #ARGV > 6 + n then
  redis.call('HSET', KEYS[2], unpack(ARGV, 7 + n))
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return previous
