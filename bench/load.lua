-- wrk script of the load benchmarks (bench/loadtest.py).
-- Arguments: method, expected status, requests file, wrk threads, Idempotency-Key prefix,
-- the first line to use (lines before it were used by an earlier run).
-- Each line of the file: token <TAB> engineer id <TAB> path <TAB> body (may be empty).
-- Thread t sends lines first + t, first + t + threads, ... once each, in order, so that
-- no job is checked in twice; every request has its own Idempotency-Key. `done` reports
-- how many lines the run used up (sent, answered or not).

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  method = args[1]
  expected = tonumber(args[2])
  local nthreads = tonumber(args[4])
  prefix = args[5]
  lines = {}
  local first = tonumber(args[6])
  local i = 0
  for line in io.lines(args[3]) do
    if i >= first and (i - first) % nthreads == tid then
      table.insert(lines, line)
    end
    i = i + 1
  end
  sent = 0
  statuses = {}
end

function request()
  sent = sent + 1
  local line = lines[(sent - 1) % #lines + 1]
  local token, engineer, path, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["X-Bench-Engineer"] = engineer,
  }
  if method ~= "GET" then
    headers["Content-Type"] = "application/json"
    headers["Idempotency-Key"] = prefix .. "-" .. tid .. "-" .. sent
  else
    body = nil
  end
  return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  local most = 0
  for _, thread in ipairs(threads) do
    most = math.max(most, thread:get("sent"))
    local s = thread:get("statuses")
    for k, v in pairs(s) do
      counts[k] = (counts[k] or 0) + v
    end
  end
  local parts = {}
  for k, v in pairs(counts) do
    table.insert(parts, string.format('"%s": %d', k, v))
  end
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, "statuses": {%s}, ' ..
    '"lines_used": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    table.concat(parts, ", "), most * #threads))
end
