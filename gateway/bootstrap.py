"""`python -m gateway.bootstrap`: an admin account and the demo environment, then their credentials.

Re-runnable. Deterministic when FOOTFALL_ENV_ID, FOOTFALL_WRITE_KEY, FOOTFALL_API_TOKEN and
FOOTFALL_ADMIN_PASSWORD (and FOOTFALL_ADMIN_EMAIL) are set; otherwise it keeps what exists and
makes up what is missing (a new API token each run, an admin password only on first run).
"""
from __future__ import annotations

import os
import secrets

from sqlalchemy import select, update

from footfall.config import Settings, get_settings
from gateway import accounts, environments, privacy
from gateway.store import accounts as accounts_table
from gateway.store import api_tokens, get_engine
from gateway.store import environments as environments_table

DEFAULT_ADMIN = "admin@footfall.local"


def bootstrap(settings: Settings | None = None) -> dict:
    """Create or update the admin and demo environment; return the credentials to print."""
    settings = settings or get_settings()
    env_id, write_key = settings.env_id, settings.write_key
    engine = get_engine(settings)
    existing = environments.get_environment(env_id, settings)
    if existing is None:
        # Without FOOTFALL_WRITE_KEY the environment makes up its key: print that one.
        write_key = environments.create_environment(env_id, "Demo", write_key, settings)["write_key"]
    elif "FOOTFALL_WRITE_KEY" in os.environ and existing["write_key"] != write_key:
        with engine.begin() as conn:
            conn.execute(update(environments_table).where(environments_table.c.id == env_id)
                         .values(write_key=write_key))
    else:
        write_key = existing["write_key"]
    environments.sync_write_keys(settings)
    # The demo's visitors are headless Chromium: its environment keeps bot traffic (flagged) rather
    # than dropping it, unless someone changed that setting since.
    privacy.ensure_settings(env_id, {"bot_traffic": "keep"}, settings)

    email = os.environ.get("FOOTFALL_ADMIN_EMAIL", DEFAULT_ADMIN)
    password = os.environ.get("FOOTFALL_ADMIN_PASSWORD")
    with engine.connect() as conn:
        admin_exists = conn.scalar(select(accounts_table.c.id).where(accounts_table.c.email == email))
    if password or not admin_exists:
        password = password or secrets.token_urlsafe(12)
        accounts.create_account(email, password, is_admin=True, settings=settings)
    else:
        password = None  # kept: we only know its hash

    token = os.environ.get("FOOTFALL_API_TOKEN")
    if not token:
        # A fresh token per run; earlier bootstrap tokens are revoked so they do not pile up.
        with engine.begin() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.env_id == env_id,
                                                  api_tokens.c.name == "bootstrap",
                                                  api_tokens.c.revoked_at.is_(None))
                         .values(revoked_at=api_tokens.c.created_at))
    token = accounts.create_api_token(env_id, "bootstrap", token, settings)
    return {"env_id": env_id, "write_key": write_key, "email": email, "password": password,
            "api_token": token, "url": settings.gateway_url}


def main() -> None:
    creds = bootstrap()
    settings = get_settings()
    password = creds["password"] or "(unchanged; set FOOTFALL_ADMIN_PASSWORD to reset it)"
    print(f"""
  Footfall UI        {creds['url']}/
    login            {creds['email']}
    password         {password}
  Environment        {creds['env_id']}
    write key        {creds['write_key']}
    API token        {creds['api_token']}
  Ingest (SDKs)      {settings.ingest_url}     browser SDK: {settings.ingest_url}/sdk.js
  Local S3           {settings.s3_endpoint_url}
  Send an event:
    curl -u {creds['write_key']}: -H 'Content-Type: application/json' \\
      -d '{{"event":"Signed Up","userId":"ada@example.com"}}' {settings.ingest_url}/v1/track
  Read the feed:
    curl -H 'Authorization: Bearer {creds['api_token']}' {creds['url']}/api/v1/environments/{creds['env_id']}/users
""")


if __name__ == "__main__":
    main()
