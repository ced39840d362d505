--[[
  Sets a node's expiry in the inbox-nodes index.

  KEYS[1] the inbox-nodes sorted set (node id scored by its expiry, ms)
  ARGV[1] new expiry, ms
  ARGV[2] node id
  Returns the expiry it replaced, or nil when the node was not listed
]]
local previous = redis.call('ZSCORE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return previous
