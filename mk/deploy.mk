# Deploy (deploy/): the image's lock file and a render of the Kubernetes overlays.
.PHONY: lock deploy-render k8s-dev-secrets

# Re-lock after changing dependencies in pyproject.toml; the Dockerfile installs from this file.
lock: $(VENV)/.installed
	$(VENV)/bin/pip install -q uv
	$(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" \
	  -o deploy/docker/requirements.lock

# Print an overlay as applied: make deploy-render OVERLAY=prod
deploy-render: $(VENV)/.installed
	$(VENV)/bin/kubectl kustomize deploy/k8s/overlays/$(or $(OVERLAY),prod)

# The dev overlay's git-ignored secrets.env: its example's keys, plus generated secrets (kept).
k8s-dev-secrets: $(VENV)/.installed
	$(PY) -m footfall.secretfile deploy/k8s/overlays/dev/secrets.env \
	  --template deploy/k8s/overlays/dev/secrets.env.example
