-- wrk script: like wrk-post.lua, but each write carries `depth` pipelined HTTP/1.1 requests
-- (args: threads, id offset, depth), so fewer syscalls per request.
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
  offset = tonumber(args[2]) or 0
  depth = tonumber(args[3]) or 8
end

function request()
  local reqs = {}
  for i = 1, depth do
    counter = counter + 1
    local event = offset + counter * nthreads + tid
    local body = string.format('{"event_id":%d,"account_id":%d}', event, event % 1000)
    reqs[i] = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
  end
  return table.concat(reqs)
end

function done(summary, latency, requests)
  io.write(string.format("requests %d, errors: connect %d read %d write %d status %d timeout %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
