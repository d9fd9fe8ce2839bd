#!/bin/sh
# Migrate every folder that has Alembic migrations (the same set as the Makefile's MIGRATED).
set -eu
cd /app
dirs=""
for migrations in services/*/migrations gateway/migrations; do
  if [ -d "$migrations" ]; then dirs="$dirs ${migrations%/migrations}"; fi
done
# shellcheck disable=SC2086 # one argument per folder
exec python -m footfall.db upgrade $dirs
