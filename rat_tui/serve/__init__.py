"""`rat serve`: one HTTP server for a workspace, read-only.

    app.py        the aiohttp application: routes, the token, capacity, the access log
    served.py     what the requests share: the lake's live session, the token, the capacity
    queries.py    the query API: /api/query, /api/tables, streamed
    running.py    one query on its own cursor and thread: its timeout, its interruption
    guard.py      what counts as a read: one SELECT, over the lake only
    encode.py     results streamed as json, ndjson, csv, Arrow IPC or Parquet, a batch at a time
    pages.py      the status page at /
    openapi.py    /api/openapi.json
    workbench.py  the workbench in a browser at /workbench (textual-serve)

A face: it calls the engine's façade (a LiveSession per server, the Engine for status) and
nothing under it.
"""
