// What a user of the mixin may change. Override it as
//   (import 'chrony-mixin/mixin.libsonnet') + { _config+:: { chronySelector: 'job="ntp"' } }
// `make mixin` renders these defaults into grafana/dashboards/chrony.json and
// rules/chrony.rules.yml.
{
  _config+:: {
    // Selects the exporter's series: every alert's and every panel's
    // metrics, and Prometheus's up for ChronyExporterDown. The default
    // matches a job named chrony, chrony_exporter or chrony-exporter.
    chronySelector: 'job=~".*chrony.*"',

    // Where each alert's runbook_url points: this, '#', and the anchor of
    // the alert's section of docs/runbooks.md (its name in lower case).
    runbookBaseURL: 'https://github.com/second-hand/chrony_exporter/blob/main/docs/runbooks.md',

    // Alert thresholds, each written once: in seconds, ppm or counts, and
    // the waits before an alert fires.
    unreachableFor: '5m',
    exporterDownFor: '5m',
    notSynchronizedFor: '10m',
    clockOffsetSeconds: 0.05,
    clockOffsetFor: '10m',
    clockErrorSeconds: 0.1,
    clockErrorFor: '15m',
    noReachableSourcesFor: '5m',
    minReachableSources: 3,
    tooFewReachableSourcesFor: '15m',
    falsetickerFor: '15m',
    leapSecondPendingFor: '10m',
    rtcDriftPPM: 100,
    rtcDriftingFor: '1h',
    collectorFailingFor: '15m',
    ntsKEAttempts: 3,
    ntsFailingFor: '15m',

    // The Grafana dashboard.
    dashboardUID: 'chrony-exporter',
    dashboardTitle: 'Chrony',
    dashboardTags: ['chrony', 'ntp', 'time', 'prometheus'],
    dashboardFile: 'chrony.json',
  },
}
