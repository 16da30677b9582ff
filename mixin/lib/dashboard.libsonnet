// Constructors for the dashboard's panels. Each fills in what every panel of
// its kind shares, so that a panel in dashboards/chrony.libsonnet is written
// as what sets it apart: its place, unit, description and queries, plus an
// object of its own settings added on top.
//
// A query is written with {S} where its selector goes; `selector` below
// replaces it, so that the exporter's job selector of _config and the
// dashboard's variables reach every query in one place.
{
  local ds = { type: 'prometheus', uid: '${datasource}' },

  // The matchers every query gets: the exporter's selector, when set, and the
  // job and instance variables.
  selector(config):: std.join(', ', std.filter(
    function(m) m != '',
    [config.chronySelector, 'job=~"$job"', 'instance=~"$instance"'],
  )),

  local pos(p) = { x: p[0], y: p[1], w: p[2], h: p[3] },

  // A target is an expr or [expr, legendFormat]; refIds follow the order.
  local targets(sel, list, defaults, legend) = [
    local e = if std.isArray(list[i]) then list[i][0] else list[i];
    {
      datasource: ds,
      editorMode: 'code',
      expr: std.strReplace(e, '{S}', '{' + sel + '}'),
      legendFormat: if std.isArray(list[i]) then list[i][1] else legend,
      refId: std.char(65 + i),
    } + defaults
    for i in std.range(0, std.length(list) - 1)
  ],
  local instant = { range: false, instant: true },

  local panel(type, id, title, p, unit, description) = {
    type: type,
    title: title,
    description: description,
    datasource: ds,
    id: id,
    gridPos: pos(p),
    fieldConfig: { defaults: { unit: unit }, overrides: [] },
  },

  // A row; one given panels is collapsed and holds them.
  row(id, title, y, panels=[]):: {
    type: 'row',
    title: title,
    collapsed: panels != [],
    id: id,
    gridPos: pos([0, y, 24, 1]),
    panels: panels,
  },

  // A single value, the last one, colored by thresholds.
  stat(sel, id, title, p, unit, description, exprs):: panel('stat', id, title, p, unit, description) + {
    fieldConfig+: { defaults+: {
      mappings: [],
      thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
      color: { mode: 'thresholds' },
    } },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      orientation: 'auto',
      textMode: 'auto',
      colorMode: 'value',
      graphMode: 'none',
      justifyMode: 'auto',
      wideLayout: true,
      showPercentChange: false,
    },
    targets: targets(sel, exprs, instant, '{{instance}}'),
  },

  // Lines over time, with the last and largest values in the legend.
  timeseries(sel, id, title, p, unit, description, exprs):: panel('timeseries', id, title, p, unit, description) + {
    fieldConfig+: { defaults+: {
      custom: {
        drawStyle: 'line',
        lineWidth: 1,
        fillOpacity: 0,
        showPoints: 'never',
        spanNulls: false,
        axisPlacement: 'auto',
      },
      color: { mode: 'palette-classic' },
    } },
    options: {
      legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull', 'max'] },
      tooltip: { mode: 'multi', sort: 'none' },
    },
    targets: targets(sel, exprs, { range: true, instant: false }, '{{instance}}'),
  },

  // One row per series, the queries' values as columns.
  table(sel, id, title, p, unit, description, exprs):: panel('table', id, title, p, unit, description) + {
    fieldConfig+: { defaults+: { custom: { align: 'auto' } } },
    options: { showHeader: true, cellHeight: 'sm', footer: { show: false } },
    targets: targets(sel, exprs, instant + { format: 'table' }, '__auto'),
  },
}
