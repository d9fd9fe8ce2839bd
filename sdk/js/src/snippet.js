// The snippet a site pastes into <head>: a stub that queues calls until /sdk.js has loaded.
// Usage: <script>SNIPPET; footfall.init("WRITE_KEY", {ingestHost: "https://ingest.example"});</script>
(function (w, d) {
  var f = (w.footfall = w.footfall || { q: [] });
  if (f.loaded || f.init) return;
  var methods = ["track", "identify", "resetIdentity", "addUserProperties", "addEventProperties",
    "removeEventProperty", "clearEventProperties", "flush"];
  function queue(m) {
    return function () {
      f.q.push([m].concat(Array.prototype.slice.call(arguments)));
    };
  }
  for (var i = 0; i < methods.length; i++) f[methods[i]] = queue(methods[i]);
  f.init = function (key, options) {
    f.q.push(["init", key, options]);
    var s = d.createElement("script");
    s.async = true;
    s.src = ((options && options.ingestHost) || "").replace(/\/+$/, "") + "/sdk.js";
    d.head.appendChild(s);
  };
})(window, document);
