from __future__ import annotations

from prometheus_client import CollectorRegistry

from controller.reconcilers.metrics import DownloadMetrics, register_phase_counts


def test_models_are_counted_by_phase_at_scrape_time_with_every_phase_present() -> None:
    registry = CollectorRegistry()
    models = [{"status": {"phase": "Ready"}}, {"status": {"phase": "Ready"}}, {}]
    register_phase_counts(
        name="llmkube_models",
        documentation="d",
        phases=("Pending", "Ready"),
        objects=lambda: models,
        registry=registry,
    )
    assert registry.get_sample_value("llmkube_models", {"phase": "Ready"}) == 2
    assert registry.get_sample_value("llmkube_models", {"phase": "Pending"}) == 0
    assert registry.get_sample_value("llmkube_models", {"phase": "Unknown"}) == 1
    models.pop(0)
    assert registry.get_sample_value("llmkube_models", {"phase": "Ready"}) == 1


def test_a_file_reused_from_the_cache_counts_no_download() -> None:
    registry = CollectorRegistry()
    metrics = DownloadMetrics(registry)
    metrics.observe(job_uid="a", source="url", size_bytes=100, seconds=2.0, reused=True)
    metrics.observe(job_uid="b", source="url", size_bytes=40, seconds=1.0, reused=False)
    assert registry.get_sample_value("llmkube_model_download_bytes_total", {"source": "url"}) == 40
    assert registry.get_sample_value("llmkube_model_download_seconds_count", {"source": "url"}) == 1


def test_a_download_job_seen_twice_counts_once() -> None:
    registry = CollectorRegistry()
    metrics = DownloadMetrics(registry, remembered_jobs=2)
    for uid in ("a", "a", "b", "a"):
        metrics.observe(job_uid=uid, source="url", size_bytes=10, seconds=1.0, reused=False)
    assert registry.get_sample_value("llmkube_model_download_bytes_total", {"source": "url"}) == 20
    assert registry.get_sample_value("llmkube_model_download_seconds_count", {"source": "url"}) == 2
    # Only the most recent Jobs are remembered: one long gone would count again, which never happens in practice.
    metrics.observe(job_uid="c", source="url", size_bytes=10, seconds=1.0, reused=False)
    metrics.observe(job_uid="a", source="url", size_bytes=10, seconds=1.0, reused=False)
    assert registry.get_sample_value("llmkube_model_download_bytes_total", {"source": "url"}) == 40


def test_download_series_exist_at_zero_before_any_download() -> None:
    registry = CollectorRegistry()
    DownloadMetrics(registry)
    assert registry.get_sample_value("llmkube_model_download_bytes_total", {"source": "huggingFace"}) == 0
