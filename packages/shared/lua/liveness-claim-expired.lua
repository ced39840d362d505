--[[
  Removes and returns the nodes whose liveness record expired at or before a time: each to exactly one
  caller, which then purges what the node left.

  KEYS[1] the liveness index (node id scored by its expiry, ms)
  ARGV[1] the time, ms
  Returns the node ids removed
]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, id in ipairs(ids) do redis.call('ZREM', KEYS[1], id) end
return ids
