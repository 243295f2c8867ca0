-- wrk script used by bench/run: one request shape per run, configured from the
-- environment (wrk gives each thread its own Lua state; os.getenv works in all of them),
-- and a machine-readable summary line printed by done().
--
--   BENCH_METHOD  GET (default) or POST
--   BENCH_BODY    request body (POST)
--   BENCH_CTYPE   Content-Type of the body (default application/x-www-form-urlencoded)
--   BENCH_AUTH    value of the Authorization header, if any

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = os.getenv("BENCH_CTYPE") or "application/x-www-form-urlencoded"
end
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "BENCH_RESULT requests=%d seconds=%.3f rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
