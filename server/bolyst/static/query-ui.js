/* The query editor of /query: YASGUI (vendored in /static/yasgui/) set up for our endpoint.
 *
 * - Queries go to our /sparql (POST); no endpoint catalogue, no other endpoint.
 * - Prefixes come from our own list (/query/prefixes.json), not from prefix.cc, and YASR
 *   abbreviates IRIs in the results with them.
 * - The "class" and "property" autocompleters are removed: they ask the LOV API on another host
 *   while you type.
 * - Every stored query is an example (the select above the editor opens it in a new tab), and
 *   ?query= opens a tab with that query (the "open in the query editor" links).
 * - A small chart plugin draws a bar chart when a result has a label column and a numeric one.
 * Nothing here fetches anything from another host.
 */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var config = JSON.parse(document.getElementById("query-config").textContent);
  var origin = window.location.origin;
  var endpoint = origin + config.endpoint;

  function isNumber(binding) {
    return binding && binding.type !== "uri" && binding.type !== "bnode" &&
      binding.value !== "" && isFinite(Number(binding.value));
  }

  function shorten(value) {
    for (var prefix in config.prefixes) {
      var ns = config.prefixes[prefix];
      if (value.indexOf(ns) === 0) return prefix + ":" + value.slice(ns.length);
    }
    return value;
  }

  /* A YASR plugin: horizontal bars of the first numeric column, labelled by the first other one. */
  function BarChart(yasr) {
    this.yasr = yasr;
    this.label = "Chart";
    this.priority = 3; // below the table (10): the table stays the default view
  }

  BarChart.prototype.columns = function () {
    var results = this.yasr.results;
    if (!results || !results.getVariables || !results.getBindings) return null;
    var variables = results.getVariables() || [];
    var rows = results.getBindings() || [];
    if (!rows.length || rows.length > 200) return null;
    var value = null, labels = [];
    variables.forEach(function (v) {
      var numeric = rows.every(function (r) { return !r[v] || isNumber(r[v]); }) &&
        rows.some(function (r) { return r[v]; });
      if (numeric && value === null) value = v;
      else if (!numeric) labels.push(v);
    });
    return value === null ? null : { value: value, labels: labels, rows: rows };
  };

  BarChart.prototype.canHandleResults = function () {
    return this.columns() !== null;
  };

  BarChart.prototype.draw = function () {
    var data = this.columns();
    var host = this.yasr.resultsEl;
    if (!data) return;
    var rowHeight = 26, labelWidth = 330, width = 820, room = 80;
    var values = data.rows.map(function (r) { return r[data.value] ? Number(r[data.value].value) : null; });
    var max = Math.max.apply(null, values.filter(function (v) { return v !== null; }).concat([0]));
    var scale = max > 0 ? (width - labelWidth - room) / max : 0;
    var svg = document.createElementNS(SVG, "svg");
    var height = data.rows.length * rowHeight + 10;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(height));
    svg.setAttribute("role", "img");
    svg.setAttribute("class", "bolyst-chart");
    var title = document.createElementNS(SVG, "title");
    title.textContent = "?" + data.value +
      (data.labels.length ? " by ?" + data.labels.join(", ?") : "");
    svg.appendChild(title);
    data.rows.forEach(function (r, i) {
      var y = 5 + i * rowHeight;
      // Each bar is named by the row's other (non-numeric) values: "KOM Trainee · FTE for coaching".
      var parts = data.labels.filter(function (v) { return r[v]; }).map(function (v) {
        return shorten(r[v].value);
      });
      var name = parts.length ? parts.join(" · ") : String(i + 1);
      var text = document.createElementNS(SVG, "text");
      text.setAttribute("x", String(labelWidth - 8));
      text.setAttribute("y", String(y + 15));
      text.setAttribute("text-anchor", "end");
      text.textContent = name.length > 44 ? name.slice(0, 43) + "…" : name;
      svg.appendChild(text);
      if (values[i] !== null) {
        var bar = document.createElementNS(SVG, "rect");
        bar.setAttribute("x", String(labelWidth));
        bar.setAttribute("y", String(y + 2));
        bar.setAttribute("width", String(Math.max(values[i] * scale, values[i] > 0 ? 1 : 0)));
        bar.setAttribute("height", String(rowHeight - 8));
        bar.setAttribute("class", "bar");
        svg.appendChild(bar);
        var value = document.createElementNS(SVG, "text");
        value.setAttribute("x", String(labelWidth + values[i] * scale + 6));
        value.setAttribute("y", String(y + 15));
        value.textContent = r[data.value].value;
        svg.appendChild(value);
      }
    });
    host.appendChild(svg);
  };

  BarChart.prototype.getIcon = function () {
    var icon = document.createElementNS(SVG, "svg");
    icon.setAttribute("viewBox", "0 0 16 16");
    icon.setAttribute("width", "16");
    icon.setAttribute("height", "16");
    icon.setAttribute("aria-hidden", "true");
    [[1, 2, 12], [1, 7, 8], [1, 12, 5]].forEach(function (b) {
      var rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", String(b[0]));
      rect.setAttribute("y", String(b[1]));
      rect.setAttribute("width", String(b[2]));
      rect.setAttribute("height", "3");
      icon.appendChild(rect);
    });
    return icon;
  };

  Yasgui.Yasqe.defaults.autocompleters = Yasgui.Yasqe.defaults.autocompleters.filter(function (name) {
    return name !== "class" && name !== "property";
  });
  Yasgui.Yasqe.defaults.prefixCcApi = origin + "/query/prefixes.json";
  Yasgui.Yasr.registerPlugin("chart", BarChart);

  var yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: false,
    endpointCatalogueOptions: { getData: function () { return []; } },
    populateFromUrl: false,
    persistenceId: null,
    autofocus: false,
    tabName: "Query",
    yasqe: { value: config.defaultQuery, prefixCcApi: origin + "/query/prefixes.json" },
    yasr: { prefixes: config.prefixes }
  });
  window.bolystYasgui = yasgui; // for the browser tests and the curious

  function open(name, query) {
    return yasgui.addTab(true, { name: name, yasqe: { value: query } }, { avoidDuplicateTabs: true });
  }

  if (config.query) {
    open("Query", config.query);
  }

  var examples = {};
  config.examples.forEach(function (e) { examples[e.name] = e; });
  document.getElementById("examples-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var chosen = examples[document.getElementById("examples").value];
    if (chosen) open(chosen.title.slice(0, 30), chosen.query);
  });
})();
