"""The Lua scripts of the work queue (:mod:`gpsa.central.workqueue`): each state change of a
workload is one atomic script, so that two workers can never both own, commit or dead-letter it.

Every script gets the same keys, all in one hash slot (``{RUN}`` hash tag, Cluster-ready):

=======  ============================  =====================================================
KEYS[1]  ``gpsa:{RUN}:work``           the work stream (consumer group :data:`GROUP`)
KEYS[2]  ``gpsa:{RUN}:dead``           dead letters
KEYS[3]  ``gpsa:{RUN}:done``           hash workload -> committed result (JSON)
KEYS[4]  ``gpsa:{RUN}:settled``        set of workloads done or dead-lettered
KEYS[5]  ``gpsa:{RUN}:meta``           hash: total, lease_ms, max_deliveries, final, state
KEYS[6]  ``gpsa:{RUN}:events``         log: claim, reclaim, release, fail, dead, commit, refused
KEYS[7]  ``gpsa:{RUN}:errors``         hash workload -> last error text
=======  ============================  =====================================================

and ``ARGV[1]`` = group, ``ARGV[2]`` = the calling consumer. Ownership is always read from the
group's pending list (``XPENDING``): the consumer an entry is pending for owns it. A workload in
another language joins by loading these sources with ``SCRIPT LOAD`` and calling them with the
same keys and arguments (docs/batch.md).
"""

from __future__ import annotations

#: the consumer group of every work stream
GROUP = "workers"
#: pseudo-consumer that holds released entries until the next claim takes them
RELEASED = "released"
#: idle time (ms) given to a released entry: far past any lease, so the next claim takes it
RELEASED_IDLE_MS = 10**9

_PRELUDE = """
local work, dead, done, settled, meta, events, errors =
    KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local g, me = ARGV[1], ARGV[2]

local function fields(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function ev(kind, wl, who, id, n, detail, prev)
  redis.call('XADD', events, '*', 'ev', kind, 'workload', wl, 'worker', who,
             'entry', id, 'deliveries', tostring(n), 'detail', detail or '',
             'previous', prev or '')
end

local function owner(id)
  local p = redis.call('XPENDING', work, g, id, id, 1)
  if #p == 0 then return nil, 0 end
  return p[1][2], tonumber(p[1][4])
end

-- a crystal workload is settled (done or dead): when all are, add the final step; the final
-- step settled ends the run
local function settle(kind, wl)
  if kind == 'final' then
    redis.call('HSET', meta, 'state', 'complete')
    return
  end
  if redis.call('SADD', settled, wl) == 1 then
    local total = tonumber(redis.call('HGET', meta, 'total'))
    if redis.call('SCARD', settled) >= total
        and redis.call('HSETNX', meta, 'final_enqueued', '1') == 1 then
      local id = redis.call('XADD', work, '*', 'workload', '_final', 'kind', 'final',
                            'payload', redis.call('HGET', meta, 'final'))
      ev('enqueued', '_final', '', id, 0, 'every crystal workload is done or dead-lettered')
    end
  end
end

local function dead_letter(id, f, reason, err, n, who)
  redis.call('XADD', dead, '*', 'workload', f.workload, 'kind', f.kind, 'entry', id,
             'reason', reason, 'error', err, 'deliveries', tostring(n), 'worker', who,
             'payload', f.payload)
  redis.call('XACK', work, g, id)
  ev('dead', f.workload, who, id, n, reason .. ': ' .. err, who)
  settle(f.kind, f.workload)
end
"""

#: ARGV[3] lease ms, ARGV[4] max deliveries. Returns false, or {how, id, flat fields,
#: deliveries, previous owner}; how is ``own`` (a claim whose reply was lost), ``reclaimed``
#: (idle past the lease), ``taken`` (released) or ``new``. Entries idle past the lease that were
#: delivered max-deliveries times already are dead-lettered on the way (reason lease expired).
CLAIM = _PRELUDE + """
local lease, maxdel = tonumber(ARGV[3]), tonumber(ARGV[4])
local mine = redis.call('XREADGROUP', 'GROUP', g, me, 'COUNT', 1, 'STREAMS', work, '0')
if mine and #mine[1][2] > 0 then
  local e = mine[1][2][1]
  if e[2] then
    local _, n = owner(e[1])
    return {'own', e[1], e[2], n, me}
  end
  redis.call('XACK', work, g, e[1])
end
local idle = redis.call('XPENDING', work, g, 'IDLE', lease, '-', '+', 100)
for _, p in ipairs(idle) do
  local id, who, ms, n = p[1], p[2], p[3], tonumber(p[4])
  local e = redis.call('XRANGE', work, id, id)
  if #e == 0 then
    redis.call('XACK', work, g, id)
  elseif n >= maxdel and who ~= 'released' then
    local f = fields(e[1][2])
    local last = redis.call('HGET', errors, f.workload)
    local why = 'no heartbeat from ' .. who .. ' for ' .. math.floor(ms / 1000) .. ' s'
    if last then why = why .. '; last error: ' .. last end
    dead_letter(id, f, 'lease expired', why, n, who)
  else
    local c = redis.call('XCLAIM', work, g, me, lease, id)
    if #c > 0 and c[1] then
      local f = fields(c[1][2])
      local how = (who == 'released') and 'taken' or 'reclaimed'
      local detail = (how == 'taken') and '' or ('idle ' .. ms .. ' ms')
      ev(how, f.workload, me, id, n + 1, detail, who)
      return {how, id, c[1][2], n + 1, who}
    end
  end
end
local new = redis.call('XREADGROUP', 'GROUP', g, me, 'COUNT', 1, 'STREAMS', work, '>')
if new and #new[1][2] > 0 then
  local e = new[1][2][1]
  ev('claimed', fields(e[2]).workload, me, e[1], 1, '')
  return {'new', e[1], e[2], 1, ''}
end
return false
"""

#: ARGV[3] entry id. Resets the entry's idle time (XCLAIM JUSTID: no delivery counted) if the
#: caller still owns it; returns 1, else 0 (the lease was lost).
HEARTBEAT = _PRELUDE + """
local who = owner(ARGV[3])
if who ~= me then return 0 end
redis.call('XCLAIM', work, g, me, 0, ARGV[3], 'JUSTID')
return 1
"""

#: ARGV[3] entry id, ARGV[4] workload, ARGV[5] kind, ARGV[6] token, ARGV[7] record (JSON with
#: the same token). The fence: records the result and XACKs only if the caller owns the entry.
#: Returns 1 (committed; also for a retry of a commit that went through), 0 (refused).
COMMIT = _PRELUDE + """
local id, wl, kind, token = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local prev = redis.call('HGET', done, wl)
if prev then
  local ok, rec = pcall(cjson.decode, prev)
  if ok and rec.token == token then return 1 end
end
local who, n = owner(id)
if who ~= me then
  ev('refused', wl, me, id, n, 'not the owner (now ' .. tostring(who or 'nobody') .. ')')
  return 0
end
if prev then
  redis.call('XACK', work, g, id)
  ev('refused', wl, me, id, n, 'already done')
  return 0
end
redis.call('HSET', done, wl, ARGV[7])
redis.call('XACK', work, g, id)
ev('commit', wl, me, id, n, '')
settle(kind, wl)
return 1
"""

#: ARGV[3] entry id, ARGV[4] error text, ARGV[5] max deliveries, ARGV[6] idle ms given to the
#: released entry. A failed attempt: the error is
#: kept; the entry is released for another attempt (its delivery counted), or dead-lettered
#: when it has had max deliveries. Returns ``released``, ``dead`` or ``lost`` (not the owner).
FAIL = _PRELUDE + """
local id, err, maxdel = ARGV[3], ARGV[4], tonumber(ARGV[5])
local who, n = owner(id)
if who ~= me then return 'lost' end
local e = redis.call('XRANGE', work, id, id)
local f = fields(e[1][2])
redis.call('HSET', errors, f.workload, err)
ev('failed', f.workload, me, id, n, err)
if n >= maxdel then
  dead_letter(id, f, 'failed', err, n, me)
  return 'dead'
end
redis.call('XCLAIM', work, g, 'released', 0, id, 'IDLE', ARGV[6], 'JUSTID')
return 'released'
"""

#: ARGV[3] entry id, ARGV[4] why, ARGV[5] idle ms. Gives the entry back at once, without
#: counting the delivery (SIGTERM, a stop): the next claim takes it. Returns 1, or 0 (not the
#: owner).
RELEASE = _PRELUDE + """
local id = ARGV[3]
local who, n = owner(id)
if who ~= me then return 0 end
redis.call('XCLAIM', work, g, 'released', 0, id, 'IDLE', ARGV[5],
           'RETRYCOUNT', math.max(n - 1, 0), 'JUSTID')
local e = redis.call('XRANGE', work, id, id)
ev('released', fields(e[1][2]).workload, me, id, n, ARGV[4])
return 1
"""
