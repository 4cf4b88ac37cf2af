"""A source's `auth`: HTTP Basic, or OAuth 2 client credentials with the token fetched when the
pull starts and again when it expires (its `expires_in`, or a 401 mid-pull).

Every resolved value (password, client secret, the token) is handed to the pull's `Secrets`
before it is used, so no error, log or landed record can carry it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from rat_tui.engine.sources.secrets import Secrets
from rat_tui.engine.sources.spec import Auth

EARLY_SECONDS = 30.0  # a token is renewed this long before it expires


class AuthError(Exception):
    """The token could not be had; the message is free of secrets."""


class Authenticator:
    """What each request of a pull carries: an httpx auth, or a bearer header kept fresh."""

    def __init__(self, spec: Auth, secrets: Secrets, where: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self.secrets = secrets
        self.where = where  # "sources.<name>.auth"
        self.clock = clock
        self.token = ""
        self.expires = 0.0
        self.fetches = 0
        values = {}
        for name in ("username", "password", "token_url", "client_id", "client_secret", "scope"):
            values[name] = secrets.resolve(getattr(spec, name), f"auth.{name}")
        for name in ("password", "client_secret"):
            if values[name]:
                secrets.add(values[name])
        self.values = values

    def basic(self) -> httpx.BasicAuth | None:
        if self.spec.type != "basic":
            return None
        return httpx.BasicAuth(self.values["username"], self.values["password"])

    def headers(self, client: httpx.Client) -> dict[str, str]:
        if self.spec.type != "oauth2_client_credentials":
            return {}
        if not self.token or self.clock() >= self.expires - EARLY_SECONDS:
            self._fetch(client)
        return {"Authorization": f"Bearer {self.token}"}

    def expired(self) -> bool:
        """After a 401: whether a new token is worth a try (an OAuth token; not just fetched)."""
        if self.spec.type != "oauth2_client_credentials" or not self.token:
            return False
        self.token = ""
        return True

    def _fetch(self, client: httpx.Client) -> None:
        v = self.values
        form = {"grant_type": "client_credentials"}
        if v["scope"]:
            form["scope"] = v["scope"]
        auth: httpx.BasicAuth | httpx._client.UseClientDefault = httpx.USE_CLIENT_DEFAULT
        if self.spec.client_auth == "post":
            form.update(client_id=v["client_id"], client_secret=v["client_secret"])
        else:
            auth = httpx.BasicAuth(v["client_id"], v["client_secret"])
        url = v["token_url"]
        shown = self.secrets.redact(self.spec.token_url.split("?", 1)[0])
        try:
            response = client.post(url, data=form, auth=auth, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise AuthError(f"the token from {shown} could not be fetched: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise AuthError(
                f"the token from {shown} was refused: HTTP {response.status_code} {response.reason_phrase}; "
                f"check {self.where}.client_id and client_secret (and their ${{VAR}}s)"
            )
        try:
            body = response.json()
            token = body["access_token"]
        except (ValueError, KeyError, TypeError):
            raise AuthError(f"the answer of {shown} holds no access_token; check {self.where}.token_url") from None
        if not isinstance(token, str) or not token:
            raise AuthError(f"the answer of {shown} holds no access_token; check {self.where}.token_url")
        self.secrets.add(token)
        expires_in = body.get("expires_in")
        life = (
            float(expires_in) if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) else 3600.0
        )
        self.token, self.expires = token, self.clock() + life
        self.fetches += 1
