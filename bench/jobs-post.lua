-- wrk: POST <prefix>/stuff/import {"names": ["bench-job-<run>-<thread>-<n>"]} with a Bearer
-- token: enqueues one job per request, each with a name of its own (issue 22). Anything but 202 is bad.
-- Usage: wrk ... -s jobs-post.lua URL -- PREFIX RUN TOKEN
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")

local path, run, n, headers = "/api/stuff/import", "x", 0, {}
bad = 0

function init(args)
   path = (args[1] or "/api") .. "/stuff/import"
   run = args[2] or "x"
   headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. (args[3] or "")}
end

function request()
   n = n + 1
   return wrk.format("POST", path, headers,
                     '{"names": ["bench-job-' .. run .. '-' .. (tid or 0) .. '-' .. n .. '"]}')
end

function response(status, headers, body)
   if status ~= 202 then bad = bad + 1 end
end
