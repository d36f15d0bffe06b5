# The two commands a newcomer needs; both set up .venv themselves.
.PHONY: demo test crds docs images

demo: ## From nothing to an OpenAI-compatible answer on the embedded local cluster.
	hack/demo.sh $(ARGS)

test: ## Every check and test, as CI runs them.
	hack/test.sh

crds: ## Regenerate config/crd/bases and docs/api.md from api/, and the manifests `llmkube init` ships.
	.venv/bin/python -m api.crdgen
	.venv/bin/python -m api.docgen
	.venv/bin/python -m llmkube.bundle

images: ## Build the container images here, without Docker (root; docs/images.md), into ~/.cache/llmkube/images.
	hack/venv.sh
	hack/host-packages.sh
	.venv/bin/python -m hack.images build
