-- wrk's report for `make bench` (tests/load/side_by_side.py): one line starting "council-wrk" with the
-- run's requests, duration, p50 and p99 in microseconds, answers other than 2xx, and socket errors.
-- wrk counts only statuses of 400 and above as errors; a redirect to the sign-in page must count too.
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   non_2xx = 0
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non_2xx = non_2xx + 1
   end
end

function done(summary, latency, requests)
   local total_non_2xx = 0
   for _, thread in ipairs(threads) do
      total_non_2xx = total_non_2xx + thread:get("non_2xx")
   end
   local errors = summary.errors
   io.write(string.format(
      "council-wrk requests=%d duration_us=%d p50_us=%d p99_us=%d non_2xx=%d socket_errors=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), total_non_2xx,
      errors.connect + errors.read + errors.write + errors.timeout))
end
