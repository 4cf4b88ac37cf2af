"""The files of a new workspace (`rat init`): rat.toml, .gitignore. Data, not code."""
