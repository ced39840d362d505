--[[
  Adds a delta to an io-node's member count for a room, removing the field at zero or below.

  KEYS[1] the room's io-nodes hash (node id -> members there)
  ARGV[1] io-node id
  ARGV[2] delta
  Returns the new count
]]
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n
