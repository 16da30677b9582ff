// chrony-mixin: the Grafana dashboard, recording rules and alerts for
// chrony_exporter. Its fields are the ones every monitoring mixin has.
(import 'config.libsonnet') +
(import 'alerts.libsonnet') +
(import 'rules.libsonnet') +
(import 'dashboards/chrony.libsonnet')
