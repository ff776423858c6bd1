-- The same request the http: handler sends: a small JSON POST.
wrk.method = "POST"
wrk.body = '{"account_id":17,"event_id":4242}'
wrk.headers["Content-Type"] = "application/json"
