// The overview's chart of the last 12 months: earnings and referred revenue.
// The figures come from the page's <script type="application/json" id="earnings-chart-data"> block,
// the same ones as the table beside the chart (which stays the text for screen readers and for
// browsers without scripts). A file of its own because the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var canvas = document.getElementById("earnings-chart");
  var source = document.getElementById("earnings-chart-data");
  if (!canvas || !source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var money = new Intl.NumberFormat(document.documentElement.lang || undefined, {
    style: "currency",
    currency: data.currency,
  });
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  canvas.hidden = false;
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: "Your earnings", data: data.earnings.map(Number), backgroundColor: "#0d6efd" },
        { label: "Referred revenue", data: data.revenue.map(Number), backgroundColor: "#6c757d" },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: reduceMotion ? false : undefined,
      scales: { y: { beginAtZero: true, ticks: { callback: function (value) { return money.format(value); } } } },
      plugins: {
        tooltip: {
          callbacks: {
            label: function (context) {
              return context.dataset.label + ": " + money.format(context.parsed.y);
            },
          },
        },
      },
    },
  });
})();
