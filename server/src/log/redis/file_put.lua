-- Stores an upload, unclaimed. ARGV: id, owner, meta JSON, size, total
-- limit, now (ms), time to live (ms), bytes, per-user limit. Uploads past
-- their time are swept first. Returns 'ok', 'full', or
-- 'quota:<bytes the owner holds>' (nothing stored).
local P = 'flack:'
local id, owner, meta = ARGV[1], ARGV[2], ARGV[3]
local size, total, now, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local per_user = tonumber(ARGV[9])
for _, old in ipairs(redis.call('ZRANGEBYSCORE', P .. 'pending', '-inf', now)) do
  local file = P .. 'file:' .. old
  local gone = tonumber(redis.call('HGET', file, 'size') or '0')
  local whose = redis.call('HGET', file, 'owner')
  redis.call('DEL', file)
  redis.call('ZREM', P .. 'pending', old)
  redis.call('DECRBY', P .. 'files_bytes', gone)
  if whose and redis.call('DECRBY', P .. 'files_bytes:' .. whose, gone) <= 0 then
    redis.call('DEL', P .. 'files_bytes:' .. whose)
  end
end
local held = tonumber(redis.call('GET', P .. 'files_bytes:' .. owner) or '0')
if held + size > per_user then return 'quota:' .. held end
if tonumber(redis.call('GET', P .. 'files_bytes') or '0') + size > total then return 'full' end
redis.call('INCRBY', P .. 'files_bytes', size)
redis.call('INCRBY', P .. 'files_bytes:' .. owner, size)
redis.call('HSET', P .. 'file:' .. id, 'meta', meta, 'owner', owner, 'size', size, 'bytes', ARGV[8])
redis.call('ZADD', P .. 'pending', now + ttl, id)
return 'ok'
