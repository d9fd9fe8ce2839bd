# Browser SDK (sdk/js: esbuild bundles, vitest tests) → sdk/js/dist/footfall.js and
# footfall-replay.js, which ingest serves at /sdk.js and /sdk-replay.js; plus the demo traffic.
SDK_DIR := sdk/js
SDK_SOURCES := $(wildcard $(SDK_DIR)/src/*) $(SDK_DIR)/build.mjs

ASSETS += sdk-build

.PHONY: sdk-build sdk-test demo-traffic

sdk-build: $(SDK_DIR)/dist/footfall.js

$(SDK_DIR)/node_modules/.package-lock.json: $(SDK_DIR)/package.json $(SDK_DIR)/package-lock.json
	cd $(SDK_DIR) && npm ci --no-audit --no-fund

# build.mjs fails when the core bundle is over its 15 KB gzip budget.
$(SDK_DIR)/dist/footfall.js: $(SDK_DIR)/node_modules/.package-lock.json $(SDK_SOURCES)
	cd $(SDK_DIR) && npm run build

sdk-test: $(SDK_DIR)/node_modules/.package-lock.json
	cd $(SDK_DIR) && npx vitest run

# Simulated visitors in headless Chromium against the running stack (`make run` in another shell):
# make demo-traffic DEMO_ARGS="--visitors 30"
demo-traffic: $(VENV)/.installed sdk-build
	$(PY) -m demo.traffic $(DEMO_ARGS)
