{
  prometheusRules+:: {
    groups+: [{
      name: 'chrony.rules',
      rules: [{
        // The maximum error of the system clock, as chronyc's manual defines
        // it: |system time offset| + root dispersion + root delay / 2. The
        // name is the one the Grafana dashboard 19186 expects. Keeps job and
        // instance.
        record: 'instance:chrony_clock_error_seconds:abs',
        expr: |||
          abs(chrony_tracking_system_time_seconds{%(chronySelector)s})
            + chrony_tracking_root_dispersion_seconds{%(chronySelector)s}
            + chrony_tracking_root_delay_seconds{%(chronySelector)s} / 2
        ||| % $._config,
      }],
    }],
  },
}
