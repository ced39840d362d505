--[[
  Admits one connection of a user under the cluster-wide limit: the check and the write in one step, so
  two io-nodes admitting the same user at once cannot both take the last place.

  KEYS[1] the user's connections hash (socket id → io-node id)
  ARGV[1] socket id
  ARGV[2] io-node id
  ARGV[3] connections the user may hold
  Returns 1 when admitted (or already counted), 0 when the user holds that many already
]]
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
