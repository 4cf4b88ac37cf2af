"""The tables of `.rat/state.sqlite`, and the columns newer rats added to them (migrated on open)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,           -- running | ok | failed | noop
    command TEXT,
    files_ingested INTEGER DEFAULT 0,
    files_quarantined INTEGER DEFAULT 0,
    models_built INTEGER DEFAULT 0,
    models_failed INTEGER DEFAULT 0,
    error TEXT
);
CREATE TABLE IF NOT EXISTS model_runs (
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,           -- ok | failed | check_failed | skipped
    rows_out INTEGER,
    version INTEGER,
    error TEXT,
    mode TEXT,                      -- full | incremental
    rows_in INTEGER,                -- rows read: the inputs', or only the new rows when incremental
    fingerprint TEXT,               -- the model's fingerprint this build tried
    inputs TEXT,                    -- JSON {table: version} it read
    error_file TEXT,                -- where its error points: a file relative to the workspace,
    error_line INTEGER,             -- a line of it,
    error_check TEXT,               -- the check that failed
    PRIMARY KEY (run_id, model)
);
CREATE TABLE IF NOT EXISTS check_results (
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    name TEXT NOT NULL,
    severity TEXT NOT NULL,         -- error | warn
    status TEXT NOT NULL,           -- pass | fail | error
    failing INTEGER NOT NULL,
    sample TEXT,                    -- JSON: a few failing rows
    message TEXT,
    PRIMARY KEY (run_id, model, name)
);
CREATE TABLE IF NOT EXISTS model_state (
    model TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    inputs TEXT NOT NULL,           -- JSON {table: version} the last good build read
    materialized TEXT NOT NULL,
    view_sql TEXT,                  -- for views: the SQL the session defines
    built_at TEXT NOT NULL,
    run_id TEXT NOT NULL,
    table_version INTEGER,          -- the table's version this build published
    checks_fingerprint TEXT         -- the checks that version passed (fingerprint: the rest)
);
CREATE TABLE IF NOT EXISTS ingested_files (
    table_name TEXT NOT NULL,
    hash TEXT NOT NULL,
    path TEXT NOT NULL,             -- relative to landing/
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    status TEXT NOT NULL,           -- ingested | quarantined
    batch_id TEXT,
    rows INTEGER,
    reason TEXT,
    run_id TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (table_name, hash)
);
CREATE INDEX IF NOT EXISTS ingested_files_path ON ingested_files (path, size, mtime_ns);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    requested_at TEXT NOT NULL,
    pid INTEGER,                    -- the process that asked
    selectors TEXT NOT NULL,        -- JSON list
    full_refresh INTEGER NOT NULL,
    status TEXT NOT NULL,           -- pending | running | ok | failed | noop
    run_id TEXT,
    finished_at TEXT,
    message TEXT,
    kind TEXT NOT NULL DEFAULT 'run',  -- run | rollback | vacuum
    args TEXT,                      -- JSON: rollback {"table", "version"}, vacuum {"retain_hours"}
    result TEXT                     -- JSON: rollback {"version"}, vacuum {"deleted": {table: files}}
);
CREATE TABLE IF NOT EXISTS queries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    sql TEXT NOT NULL,
    rows INTEGER,
    seconds REAL NOT NULL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS source_pulls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,           -- [sources.<name>] in rat.toml
    run_id TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status TEXT NOT NULL,           -- ok | empty | failed
    records INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    file TEXT,                      -- the landing file written, relative to landing/
    error TEXT                      -- redacted: never a secret, a resolved URL, header or body
);
CREATE INDEX IF NOT EXISTS source_pulls_source ON source_pulls (source, id);
CREATE TABLE IF NOT EXISTS table_formats (
    table_name TEXT PRIMARY KEY,    -- a bronze table
    decimal TEXT NOT NULL,          -- the decimal mark its landing files write numbers with: . or ,
    source TEXT NOT NULL,           -- configured | file | separator | default: what settled it
    file TEXT,                      -- the landing file that settled it
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    version INTEGER NOT NULL,       -- the table's version that made the change
    run_id TEXT,
    at TEXT NOT NULL,
    column_name TEXT NOT NULL,
    change TEXT NOT NULL,           -- added | widened | nested
    old_type TEXT,
    new_type TEXT NOT NULL,
    file TEXT NOT NULL,             -- the landing file that caused it, relative to landing/
    example TEXT                    -- a value of that file the old type could not hold
);
CREATE TABLE IF NOT EXISTS seen_files (
    path TEXT PRIMARY KEY,          -- relative to landing/; a file whose size and mtime match is not hashed again
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL
);
"""


# Columns added to a table after rat first made it: (table, column, declaration). A state.sqlite
# made by an older rat lacks them, and CREATE TABLE IF NOT EXISTS does not add them.
ADDED_COLUMNS = (
    ("requests", "kind", "TEXT NOT NULL DEFAULT 'run'"),
    ("requests", "args", "TEXT"),
    ("requests", "result", "TEXT"),
    ("model_runs", "fingerprint", "TEXT"),
    ("model_runs", "inputs", "TEXT"),
    ("model_state", "checks_fingerprint", "TEXT"),
    ("model_runs", "error_file", "TEXT"),
    ("model_runs", "error_line", "INTEGER"),
    ("model_runs", "error_check", "TEXT"),
)
