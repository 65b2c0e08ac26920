-- Everything, atomically: {lsn, dataset, users, sessions, channels, reads}
-- where channels are {key, entry, head, events, topic entry or nil} in
-- creation order and
-- reads are {user, {key, seq, ...}}. ARGV[1]: a dataset id to take if
-- Redis has none yet.
local P = 'flack:'
redis.call('SET', P .. 'id', ARGV[1], 'NX')
local lsn = tonumber(redis.call('GET', P .. 'lsn') or '0')
local users = redis.call('HVALS', P .. 'users')
local sessions = redis.call('HVALS', P .. 'sessions')
local channels = {}
for _, key in ipairs(redis.call('LRANGE', P .. 'order', 0, -1)) do
  local head = tonumber(redis.call('GET', P .. 'head:' .. key) or '0')
  local events = redis.call('XRANGE', P .. 'events:' .. key, '-', '+')
  local topic = redis.call('HGET', P .. 'topics', key)
  table.insert(channels, {key, redis.call('HGET', P .. 'channels', key), head, events, topic})
end
local reads = {}
for _, id in ipairs(redis.call('HKEYS', P .. 'users')) do
  table.insert(reads, {id, redis.call('HGETALL', P .. 'reads:' .. id)})
end
return {lsn, redis.call('GET', P .. 'id'), users, sessions, channels, reads}
