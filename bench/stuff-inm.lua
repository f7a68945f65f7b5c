-- wrk: GET <prefix>/stuff/<id> with If-None-Match: <its current ETag>, answered 304 (issue 21:
-- what revalidation costs). Usage: wrk ... -s stuff-inm.lua URL -- PREFIX TAGFILE
-- TAGFILE: lines "<id> <tag>" (bench/rest.py fetches them); an answer other than 304 counts as bad.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")

local reqs, i = {}, 0
bad = 0

function init(args)
   local prefix = args[1] or "/api"
   local tags = {}
   for line in io.lines(args[2]) do
      local id, tag = line:match("^(%d+) (.+)$")
      if id then table.insert(tags, {id, tag}) end
   end
   math.randomseed(os.time() * 100 + (tid or 0))
   for n = 1, 8192 do
      local t = tags[math.random(1, #tags)]
      reqs[n] = wrk.format("GET", prefix .. "/stuff/" .. t[1], {["If-None-Match"] = t[2]})
   end
end

function request()
   i = i % #reqs + 1
   return reqs[i]
end

function response(status, headers, body)
   if status ~= 304 then bad = bad + 1 end
end
