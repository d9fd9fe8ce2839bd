"""Prints where the local stack answers and with which credentials (`make run`)."""
from footfall.config import get_settings


def main() -> None:
    s = get_settings()
    print(f"""
  Footfall is starting.
    UI and API (gateway)   {s.gateway_url}
    Ingest (SDKs)          {s.ingest_url}    write key: {s.write_key}    environment: {s.env_id}
    Local S3               {s.s3_endpoint_url}
  Send an event:
    curl -u {s.write_key}: -H 'Content-Type: application/json' \\
      -d '{{"event":"Signed Up","userId":"ada@example.com"}}' {s.ingest_url}/v1/track
""")


if __name__ == "__main__":
    main()
