"""`deploy --dry-run -o yaml | kubectl apply -f -`: the GitOps path yields the objects `deploy` itself would.

Stand-in: no controller runs in the CLI suite, so the Ready statuses are written by hand as the two reconcilers
would write them (conftest.make_ready); what is real is the apiserver accepting the printed manifests through
kubectl and the CLI then reading them back as its own.
"""

from __future__ import annotations

from hack.localcluster import ClusterBase
from tests.integration.cli.conftest import Cli, get, make_ready

MODELS = "models.inference.llmkube.dev"
SERVICES = "inferenceservices.inference.llmkube.dev"


def test_dry_run_yaml_piped_into_kubectl_apply_becomes_a_ready_service(
    cli: Cli, cluster: ClusterBase, namespace: str
) -> None:
    rendered = cli("deploy", "smollm2-135m", "--dry-run", "-o", "yaml", namespaced=False)
    assert rendered.exit_code == 0, rendered.output
    applied = cluster.kubectl("apply", "-n", namespace, "-f", "-", input_text=rendered.stdout)
    assert "model.inference.llmkube.dev/smollm2-135m created" in applied.stdout
    assert "inferenceservice.inference.llmkube.dev/smollm2-135m created" in applied.stdout

    model = get(cluster, namespace, MODELS, "smollm2-135m")
    isvc = get(cluster, namespace, SERVICES, "smollm2-135m")
    assert model["spec"]["source"]["huggingFace"]["repo"] == "mradermacher/SmolLM2-135M-Instruct-GGUF"
    assert isvc["spec"]["modelRef"] == {"name": "smollm2-135m"}
    assert isvc["spec"]["endpoint"] == {
        "port": 8080,
        "type": "ClusterIP",
    }  # CRD defaults fill what we left out

    make_ready(cluster, namespace, "smollm2-135m")
    status = cli.json("status", "smollm2-135m")
    assert status["inferenceService"]["status"]["phase"] == "Ready"


def test_applying_the_same_manifests_again_changes_nothing(
    cli: Cli, cluster: ClusterBase, namespace: str
) -> None:
    rendered = cli("deploy", "qwen3-8b", "--gpu", "--dry-run", namespaced=False).stdout
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input_text=rendered)
    again = cluster.kubectl("apply", "-n", namespace, "-f", "-", input_text=rendered)
    assert again.stdout.count("unchanged") == 2, again.stdout
