-- wrk script: POST /api with a unique event_id per request (thread id + per-thread counter)
-- and 1,000 accounts, as JSON. Args: threads, id offset, id step (default 1; 2 puts ids two
-- apart, so that no two accepted ids are adjacent: one range, one mark line, per event).
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  nthreads = tonumber(args[1]) or 1
  -- Event ids start past this offset, so repeated runs against one server stay unique.
  offset = tonumber(args[2]) or 0
  step = tonumber(args[3]) or 1
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local event = offset + step * (counter * nthreads + tid)
  local body = string.format('{"event_id":%d,"account_id":%d}', event, event % 1000)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("requests %d, errors: connect %d read %d write %d status %d timeout %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
