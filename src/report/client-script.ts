/**
 * The report page's own script (browser JavaScript, inlined after Chart.js). It reads the data
 * block (<script type="application/json" id="report-data">), draws the charts into the canvases
 * the page declares, and exposes the Chart instances on window.instaproCharts for tests and for
 * anyone poking at the page in devtools. Text never goes into the DOM from here: Chart.js draws
 * labels and tooltips on the canvas.
 */
export const REPORT_DATA_ELEMENT_ID = 'report-data';

export const CLIENT_SCRIPT = `(function () {
  'use strict';
  var charts = {};
  window.instaproCharts = charts;
  var data = JSON.parse(document.getElementById('${REPORT_DATA_ELEMENT_ID}').textContent);
  if (typeof Chart === 'undefined') return;

  var COLORS = {
    active: '#2563eb', activeFill: 'rgba(37, 99, 235, 0.10)',
    able: '#d97706',
    up: '#16a34a', down: '#dc2626',
    bar: 'rgba(37, 99, 235, 0.55)', barPartial: 'rgba(37, 99, 235, 0.22)',
    max: '#64748b'
  };
  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  Chart.defaults.animation = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = '#334155';
  Chart.defaults.plugins.legend.position = 'bottom';
  Chart.defaults.plugins.legend.labels.usePointStyle = true;
  Chart.defaults.maintainAspectRatio = false;

  function canvas(id) { return document.getElementById(id); }
  function axes(yTitle) {
    return {
      x: { grid: { display: false }, ticks: { autoSkip: true, maxTicksLimit: 14, maxRotation: 0 } },
      y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: yTitle } }
    };
  }
  function pick(rows, key) { return rows.map(function (r) { return r[key]; }); }

  var daily = data.snapshot.daily;
  if (daily.length > 0 && canvas('chart-daily')) {
    var radius = daily.length > 120 ? 0 : 2;
    charts.daily = new Chart(canvas('chart-daily'), {
      type: 'line',
      data: {
        labels: pick(daily, 'date'),
        datasets: [
          { label: 'Active at the end of the day', data: pick(daily, 'active_professionals_count'),
            borderColor: COLORS.active, backgroundColor: COLORS.activeFill, fill: true, borderWidth: 2,
            pointRadius: radius, pointHoverRadius: 4, tension: 0 },
          { label: 'Able at any moment of the day', data: pick(daily, 'able_at_any_moment_count'),
            borderColor: COLORS.able, backgroundColor: COLORS.able, borderDash: [6, 4], borderWidth: 2,
            pointRadius: radius, pointHoverRadius: 4, tension: 0 }
        ]
      },
      options: { interaction: { mode: 'index', intersect: false }, scales: axes('professionals') }
    });
  }

  if (daily.length > 0 && canvas('chart-changes')) {
    charts.changes = new Chart(canvas('chart-changes'), {
      type: 'bar',
      data: {
        labels: pick(daily, 'date'),
        datasets: [
          { label: 'Became active', data: pick(daily, 'became_active_count'), backgroundColor: COLORS.up },
          { label: 'Became inactive', data: daily.map(function (d) { return -d.became_inactive_count; }), backgroundColor: COLORS.down }
        ]
      },
      options: {
        interaction: { mode: 'index', intersect: false },
        scales: { x: { stacked: true, grid: { display: false }, ticks: { autoSkip: true, maxTicksLimit: 14, maxRotation: 0 } },
                  y: { stacked: true, ticks: { precision: 0 }, title: { display: true, text: 'professionals' } } },
        plugins: { tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ': ' + Math.abs(ctx.parsed.y); } } } }
      }
    });
  }

  function periodChart(id, rows, label) {
    if (rows.length === 0 || !canvas(id)) return undefined;
    return new Chart(canvas(id), {
      data: {
        labels: rows.map(label),
        datasets: [
          { type: 'bar', label: 'Average daily active', data: pick(rows, 'avg_daily_active'), order: 3,
            backgroundColor: rows.map(function (r) { return r.days_in_snapshot < r.days_in_period ? COLORS.barPartial : COLORS.bar; }) },
          { type: 'line', label: 'Active at period end', data: pick(rows, 'active_at_period_end'), order: 1,
            borderColor: COLORS.active, backgroundColor: COLORS.active, borderWidth: 2, pointRadius: 3, tension: 0 },
          { type: 'line', label: 'Highest day', data: pick(rows, 'max_daily_active'), order: 2,
            borderColor: COLORS.max, backgroundColor: COLORS.max, borderDash: [3, 3], borderWidth: 1.5, pointRadius: 2, tension: 0 }
        ]
      },
      options: { interaction: { mode: 'index', intersect: false }, scales: axes('professionals') }
    });
  }

  var weekly = periodChart('chart-weekly', data.snapshot.weekly, function (r) { return r.period_start; });
  if (weekly) charts.weekly = weekly;
  var monthly = periodChart('chart-monthly', data.snapshot.monthly, function (r) {
    return MONTHS[Number(r.period_start.slice(5, 7)) - 1] + ' ' + r.period_start.slice(0, 4);
  });
  if (monthly) charts.monthly = monthly;
})();
`;
