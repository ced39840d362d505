--[[
  Raises an io-node's member count for a room to at least a floor (a node writing its counts again).

  KEYS[1] the room's io-nodes hash (node id -> members there)
  ARGV[1] io-node id
  ARGV[2] floor
  Returns the count before
]]
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if n < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return n
