"""Sources: data rat pulls itself. `spec` parses `[sources.<name>]` of rat.toml (all the
workspace reads), `pulling` pulls them, and each kind of source has its module (`http`)."""
