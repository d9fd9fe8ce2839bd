# ESLint of the web UI (gateway/ui/src) and the browser SDK (sdk/js): one toolchain in lint/, with
# its own node_modules installed from its lock file. `make lint` runs it with ruff and import-linter.
LINT_DIR := lint

LINT += eslint

.PHONY: eslint

$(LINT_DIR)/node_modules/.package-lock.json: $(LINT_DIR)/package.json $(LINT_DIR)/package-lock.json
	cd $(LINT_DIR) && npm ci --no-audit --no-fund

eslint: $(LINT_DIR)/node_modules/.package-lock.json
	$(LINT_DIR)/node_modules/.bin/eslint --config $(LINT_DIR)/eslint.config.js --max-warnings 0 \
	  gateway/ui/src sdk/js/src sdk/js/test sdk/js/build.mjs
