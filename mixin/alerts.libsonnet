// The alerts. Summaries and descriptions never repeat a threshold, so that
// changing one in _config is enough; rules/rules_test.go holds them to that.
{
  local c = $._config,
  // A number as PromQL reads it back, in its shortest form: 0.05, not the
  // 0.050000000000000003 of jsonnet's %s.
  local num(x) =
    if x == std.floor(x) then '%d' % x
    else [s for s in [('%%.%dg' % p) % x for p in std.range(1, 17)] if std.parseJson(s) == x][0],
  local values = c + { [k]: num(c[k]) for k in std.objectFields(c) if std.isNumber(c[k]) },
  local alert(name, severity, expr, wait, summary, description) = {
    alert: name,
    expr: expr % values,
    'for': wait,
    labels: { severity: severity },
    annotations: {
      summary: summary,
      description: std.rstripChars(description, '\n'),
      runbook_url: '%s#%s' % [c.runbookBaseURL, std.asciiLower(name)],
    },
  },

  prometheusAlerts+:: {
    groups+: [{
      name: 'chrony',
      rules: [
        alert('ChronyUnreachable', 'warning', 'chrony_up{%(chronySelector)s} == 0', c.unreachableFor,
              'chronyd does not answer the exporter.', |||
          chronyd on {{ $labels.instance }} does not answer the exporter (chrony_up is {{ $value }}), so nothing is known about its time.
          Check first that chronyd runs (systemctl status chrony), then that the exporter may ask it: over the Unix socket the exporter must run as root or as chronyd's own user (its group is not enough); over UDP chronyd must allow the exporter's address (cmdallow). The exporter's log and status page show the error.
        |||),

        // Only the targets chronySelector matches are watched.
        alert('ChronyExporterDown', 'warning', 'up{%(chronySelector)s} == 0', c.exporterDownFor,
              'Prometheus cannot scrape chrony_exporter.', |||
          Prometheus cannot scrape the chrony_exporter target {{ $labels.instance }} of job {{ $labels.job }} (up is {{ $value }}), so chronyd there is not watched.
          Check first that the exporter runs and listens on that address (port 9123 by default), then the firewall between Prometheus and it.
        |||),

        alert('ChronyNotSynchronized', 'warning', 'chrony_tracking_synchronized{%(chronySelector)s} == 0', c.notSynchronizedFor,
              'chronyd is not synchronised to any source.', |||
          chronyd on {{ $labels.instance }} reports leap status "Not synchronised" (chrony_tracking_synchronized is {{ $value }}): the system clock runs free.
          Check `chronyc sources` first: sources shown as ? are unreachable (network, firewall on UDP port 123, name resolution), x are falsetickers, ~ too jittery to use.
        |||),

        alert('ChronyClockOffsetHigh', 'warning', 'abs(chrony_tracking_system_time_seconds{%(chronySelector)s}) > %(clockOffsetSeconds)s', c.clockOffsetFor,
              'The system clock is far from NTP time.', |||
          The system clock of {{ $labels.instance }} is {{ $value | humanizeDuration }} away from chronyd's NTP time, and chronyd has not slewed the difference away.
          Check first whether something else sets the clock (a second NTP daemon, the hypervisor's time sync, a manual date), and whether chronyd runs with -x or without the right to adjust the clock; `chronyc tracking` shows the offset as "System time".
        |||),

        // The recording rule's sum, written out: an alert that read the
        // recording rule of another group would see it one evaluation late
        // or not, by chance, and users of a mixin load the groups apart.
        alert('ChronyClockErrorHigh', 'warning', |||
          abs(chrony_tracking_system_time_seconds{%(chronySelector)s})
            + chrony_tracking_root_dispersion_seconds{%(chronySelector)s}
            + chrony_tracking_root_delay_seconds{%(chronySelector)s} / 2
          > %(clockErrorSeconds)s
        |||, c.clockErrorFor, 'The maximum error of the system clock is high.', |||
          The maximum error of the system clock of {{ $labels.instance }} (|system time offset| + root dispersion + root delay / 2) is {{ $value | humanizeDuration }}.
          Check in `chronyc tracking` which term dominates: a large root delay means distant or slow sources (use closer ones), a growing root dispersion means chronyd has had no good sample for a long time.
        |||),

        alert('ChronyNoReachableSources', 'critical', 'max by (job, instance) (chrony_sources_reachability_ratio{%(chronySelector)s}) == 0', c.noReachableSourcesFor,
              'chronyd reaches none of its sources.', |||
          None of the sources of chronyd on {{ $labels.instance }} answered any of its last 8 polls (best reachability {{ $value | humanizePercentage }}): the system clock is no longer corrected.
          Check first that UDP port 123 to the sources is open (firewall, NAT) and that their names resolve; `chronyc sources` and `chronyc activity` show their state.
        |||),

        alert('ChronyTooFewReachableSources', 'warning', 'count by (job, instance) (chrony_sources_reachability_ratio{%(chronySelector)s} > 0) < %(minReachableSources)s', c.tooFewReachableSourcesFor,
              'chronyd reaches too few sources to outvote a wrong one.', |||
          chronyd on {{ $labels.instance }} reaches only {{ $value }} of its sources: too few to tell which one is wrong when they disagree.
          Check `chronyc sources` for the unreachable ones (shown as ?), or configure more servers, e.g. with a pool directive.
        |||),

        // The value is the falseticker's last offset.
        alert('ChronyFalseticker', 'warning', |||
          chrony_sources_last_sample_offset_seconds{%(chronySelector)s}
            and on (job, instance, source_address, source_name)
          chrony_sources_state_info{%(chronySelector)s, source_state="falseticker"}
        |||, c.falsetickerFor, 'chronyd rejects a source as a falseticker.', |||
          chronyd on {{ $labels.instance }} rejects source {{ $labels.source_name }} ({{ $labels.source_address }}) as a falseticker: its time disagrees with the majority of the sources (last offset {{ $value | humanizeDuration }}).
          Check that source's own synchronisation first (its stratum and reference ID in `chronyc ntpdata`), and replace it if it stays wrong.
        |||),

        // 1 and 2 announce a leap second; 3 is "not synchronised".
        alert('ChronyLeapSecondPending', 'info', 'chrony_tracking_leap_status{%(chronySelector)s} > 0 < 3', c.leapSecondPendingFor,
              'A leap second is announced for the end of the day.', |||
          chronyd on {{ $labels.instance }} will insert (leap status 1) or delete (2) a leap second at the end of this day, UTC; the leap status is {{ $value }}.
          Nothing needs doing unless applications cannot bear a step of the clock: check leapsecmode in chrony.conf (slew, or smearing with smoothtime on servers).
        |||),

        alert('ChronyRTCDrifting', 'warning', 'abs(chrony_rtc_frequency_drift_ppms{%(chronySelector)s}) > %(rtcDriftPPM)s', c.rtcDriftingFor,
              'The hardware real-time clock drifts fast.', |||
          The real-time clock of {{ $labels.instance }} gains or loses {{ $value | humanize }} ppm according to chronyd's RTC tracking, so the time it gives at the next boot will be off by that much.
          Check the RTC's battery and `chronyc rtcdata`; `chronyc trimrtc` sets the RTC to the system time.
        |||),

        // chronyd not answering makes every collector fail: ChronyUnreachable
        // says so once instead. The exporter reports no failure for a default
        // collector it skips because chronyd is too old or is read over UDP.
        alert('ChronyCollectorFailing', 'warning', |||
          chrony_scrape_collector_success{%(chronySelector)s} == 0
            and on (job, instance)
          chrony_up{%(chronySelector)s} == 1
        |||, c.collectorFailingFor, 'A collector of chrony_exporter fails.', |||
          The {{ $labels.collector }} collector of the exporter on {{ $labels.instance }} fails (success is {{ $value }}) although chronyd answers.
          Check first whether the exporter asks chronyd over UDP: the collectors that need the Unix socket fail there when turned on explicitly. The exporter's log and status page show the error.
        |||),

        // For sources authenticated with NTS only. The value is the number of
        // NTS-KE attempts since the last successful one.
        alert('ChronyNTSFailing', 'warning', |||
          chrony_authdata_nts_ke_attempts{%(chronySelector)s}
            and on (job, instance, source_address, source_name)
          (
              chrony_authdata_nts_ke_attempts{%(chronySelector)s} >= %(ntsKEAttempts)s
            or
              chrony_authdata_nts_cookies{%(chronySelector)s} == 0
            or
              chrony_authdata_nts_nak{%(chronySelector)s} == 1
          )
            and on (job, instance, source_address, source_name)
          chrony_authdata_info{%(chronySelector)s, mode="NTS"}
        |||, c.ntsFailingFor, 'NTS authentication of a source fails.', |||
          NTS fails for source {{ $labels.source_name }} ({{ $labels.source_address }}) of chronyd on {{ $labels.instance }}: {{ $value }} NTS-KE attempts since the last successful one, no cookies left, or an NTS NAK from the server.
          Check `chronyc -N authdata` first, then TCP port 4460 to the NTS-KE server, its certificate (trusted, not expired, matching the name) and the system clock, since a clock far off makes certificates look invalid.
        |||),
      ],
    }],
  },
}
