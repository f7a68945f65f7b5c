-- wrk: the write path (scenario 5). Each connection alternates POST <prefix>/stuff (a unique
-- name) and DELETE <prefix>/stuff/<sid> of a sid returned by an earlier 201. Each POST and
-- each DELETE is one request; "deleted" counts completed deletions. Anything but 201/204 is bad.
-- Usage: wrk ... -s stuff-write.lua URL -- PREFIX
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")

local prefix, counter, sids = "/api", 0, {}
local form = {["Content-Type"] = "application/x-www-form-urlencoded"}
bad, deleted = 0, 0

function init(args)
   prefix = args[1] or prefix
   math.randomseed(os.time() * 100 + (tid or 0))
end

function request()
   local sid = table.remove(sids)
   if sid then
      return wrk.format("DELETE", prefix .. "/stuff/" .. sid)
   end
   counter = counter + 1
   local name = string.format("bench-%d-%d-%d", tid or 0, counter, math.random(1, 1000000000))
   return wrk.format("POST", prefix .. "/stuff", form, "stuff=" .. name)
end

function response(status, headers, body)
   if status == 201 then
      local sid = body:match('"sid"%s*:%s*(%d+)')
      if sid then sids[#sids + 1] = sid else bad = bad + 1 end
   elseif status == 204 then
      deleted = deleted + 1
   else
      bad = bad + 1
   end
end
