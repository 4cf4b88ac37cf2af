"""`rat serve`: the workspace over HTTP, read-only (rat_tui/serve/)."""

from __future__ import annotations

import argparse
import os

from rat_tui.cli_common import EXIT_OK, usage, workspace_arg


def token_of(args: argparse.Namespace, configured: str | None) -> str | None:
    """The bearer token: --token-env VAR's value, else [serve] token with its ${VAR} resolved;
    never printed, never logged."""
    if args.token_env:
        value = os.environ.get(args.token_env, "").strip()
        if not value:
            raise usage(f"--token-env {args.token_env}: that environment variable is not set or empty; export it first")
        return value
    if not configured:
        return None
    from rat_tui.engine.sources.secrets import MissingVariable, Secrets

    try:
        return Secrets(os.environ).resolve(configured, "[serve] token").strip() or None
    except MissingVariable as exc:
        raise usage(
            f"rat.toml: [serve] token needs the environment variable {exc.name}, which is not set; export it first"
        ) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from rat_tui.engine.workspace import Workspace
    from rat_tui.serve.app import serve

    ws = Workspace.find(workspace_arg(args))
    settings = ws.settings
    host = args.host or settings.serve_host
    port = args.port if args.port is not None else settings.serve_port
    if not 0 < port < 65536:
        raise usage(f"--port {port}: a port is a number from 1 to 65535")
    serve(ws, host, port, token_of(args, settings.serve_token))
    return EXIT_OK
