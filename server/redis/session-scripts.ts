/**
 * The session store's Lua scripts (./sessions.ts, ./members.ts). Every key of one session shares the hash tag
 * `{<session id>}`, so each script runs on one shard of a Redis Cluster. One atomic step each: a session's
 * connections are counted and its oldest pushed out across nodes, a message id is claimed by one node only.
 */
import { Script } from './connection.ts';

/**
 * attach. KEYS: session hash, its order list, its members (sorted set, score = attach order). ARGV: TTL (ms),
 * now (ms), member (`<node>|<id>`), max members, create ('1': make the session when it does not exist).
 * Returns {0} when the session does not exist and may not be made; else {1 (resumed) or 2 (made), pushed-out
 * members...}: the oldest members beyond `max`, removed here, to be closed with Replaced by their nodes.
 */
export const ATTACH = new Script(
  `
local exists = redis.call('EXISTS', KEYS[1]) == 1
if not exists and ARGV[5] ~= '1' then return {0} end
if not exists then redis.call('HSET', KEYS[1], '@', ARGV[2]) end
local order = redis.call('HINCRBY', KEYS[1], '#', 1)
redis.call('ZADD', KEYS[3], order, ARGV[3])
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
local out = {exists and 1 or 2}
local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[4])
if excess > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[3], excess)
  for i = 1, #popped, 2 do out[#out + 1] = popped[i] end
end
return out
`,
  3,
);

/**
 * claim. KEYS: session hash, its order list. ARGV: field (m:<message id>), claim value, window, TTL (ms).
 * Returns the recorded value for the field (a settled outcome or someone else's pending claim), or nil after
 * recording this claim (the caller applies the message). Keeps at most `window` ids, oldest dropped first.
 */
export const CLAIM = new Script(
  `
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous then return previous end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('HEXISTS', KEYS[1], '@') == 0 then redis.call('HSET', KEYS[1], '@', '0') end
if redis.call('RPUSH', KEYS[2], ARGV[1]) > tonumber(ARGV[3]) then
  redis.call('HDEL', KEYS[1], redis.call('LPOP', KEYS[2]))
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return false
`,
  2,
);

/**
 * settle. KEYS: session hash. ARGV: field, expected value (our claim), new value ('' deletes the field).
 * Compare-and-set, so a claim taken over from a dead node is never overwritten by it. Returns 1 if set.
 */
export const SETTLE = new Script(
  `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
`,
  1,
);

/**
 * remember. KEYS: the session's baselines (hash topic -> `<seq>|<epoch>`), their order (sorted set). ARGV: topic,
 * value, order (ms), max baselines, TTL (ms). Beyond `max` the oldest are forgotten in the same step.
 */
export const REMEMBER = new Script(
  `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if excess > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #popped, 2 do redis.call('HDEL', KEYS[1], popped[i]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
`,
  2,
);
