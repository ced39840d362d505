--[[
  Removes and returns the nodes whose expiry is at or before a time: whoever runs it first purges them.

  KEYS[1] the inbox-nodes sorted set (node id scored by its expiry, ms)
  ARGV[1] the time, ms
  Returns the node ids removed
]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, id in ipairs(ids) do redis.call('ZREM', KEYS[1], id) end
return ids
