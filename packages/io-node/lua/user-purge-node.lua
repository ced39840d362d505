--[[
  Removes one io-node's connections from a user's connections hash (the node died or is closing).

  KEYS[1] the user's connections hash (socket id → io-node id)
  ARGV[1] io-node id
  Returns the number of connections removed
]]
local all = redis.call('HGETALL', KEYS[1])
local removed = 0
for i = 1, #all, 2 do
  if all[i + 1] == ARGV[1] then
    redis.call('HDEL', KEYS[1], all[i])
    removed = removed + 1
  end
end
return removed
