# Gateway web UI (Vite + Preact in gateway/ui), built into gateway/ui/dist which the gateway serves;
# and Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium, no download).
UI_DIR := gateway/ui
UI_SOURCES := $(wildcard $(UI_DIR)/src/*) $(UI_DIR)/index.html $(UI_DIR)/vite.config.js

ASSETS += ui-build chromium

.PHONY: ui-build chromium

ui-build: $(UI_DIR)/dist/index.html

$(UI_DIR)/node_modules/.package-lock.json: $(UI_DIR)/package.json $(UI_DIR)/package-lock.json
	cd $(UI_DIR) && npm ci --no-audit --no-fund

$(UI_DIR)/dist/index.html: $(UI_DIR)/node_modules/.package-lock.json $(UI_SOURCES)
	cd $(UI_DIR) && npm run build

# Only the browser tests need it; without root it warns instead of failing `make run`.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y chromium) \
	  || echo "warning: /usr/bin/chromium missing and could not be installed; browser tests will be skipped"
