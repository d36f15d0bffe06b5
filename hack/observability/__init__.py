"""Checking what LLMKube ships for Prometheus and Grafana against a real Prometheus and a real system.

`scene` runs the system and a Prometheus scraping it; `dashboards` and `promql` turn dashboards and alert rules
into the queries to run; `render` draws the dashboards from those queries for docs/dashboards.md.
"""
