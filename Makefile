# The two commands a newcomer needs; both set up .venv themselves.
.PHONY: demo test crds docs images chart dashboards

demo: ## From nothing to an OpenAI-compatible answer on the embedded local cluster.
	hack/demo.sh $(ARGS)

test: ## Every check and test, as CI runs them.
	hack/test.sh

crds: ## Regenerate config/crd/bases, docs/api.md, the Helm chart's copies and the manifests `llmkube init` ships.
	.venv/bin/python -m api.crdgen
	.venv/bin/python -m api.docgen
	.venv/bin/python -m hack.chart_files
	.venv/bin/python -m llmkube.bundle

images: ## Build the container images here, without Docker (root; docs/images.md), into ~/.cache/llmkube/images.
	hack/venv.sh
	hack/host-packages.sh
	.venv/bin/python -m hack.images build

chart: ## Package the Helm chart into build/chart (helm is built once from its Go module, like the control plane).
	hack/build-tools.sh helm
	.venv/bin/python -m hack.chart_files
	"$$(hack/build-tools.sh --print-bin helm)/helm" package deploy/helm/llmkube --destination build/chart

dashboards: ## Redraw docs/images/dashboards from a real scrape (needs `pip install -e '.[docs]'`).
	.venv/bin/python -m hack.observability.render
