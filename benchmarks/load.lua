-- wrk script: method, body and headers from the environment; latency percentiles as JSON at the end.
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY_FILE")
wrk.method = method
if body then
  local f = assert(io.open(body, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end
for name, value in string.gmatch(os.getenv("BENCH_HEADERS") or "", "([^:|]+):([^|]*)") do
  wrk.headers[name] = value
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write("BENCH_JSON {")
  io.write(string.format('"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, ',
    summary.requests, summary.duration, errors, summary.errors.status))
  io.write('"percentiles_us": {')
  local points = {1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.9}
  for i, p in ipairs(points) do
    io.write(string.format('"%g": %d', p, latency:percentile(p)))
    if i < #points then io.write(", ") end
  end
  io.write("}}\n")
end
