# shellcheck shell=bash
# Shared by ci/test-web.sh and ci/bench/dashboard.sh (web/'s test toolchain; the dashboard itself
# needs no Node: web/app is served as written). Source it after setting WEB=<repo>/web.

# Refuses a Node outside web/package.json "engines.node" (the range is read there, never
# repeated here). Understands ranges of the form `A || B || …`, each a list of comparators
# (^X.Y.Z, >=X.Y.Z, >X.Y.Z, <=X.Y.Z, <X.Y.Z, =X.Y.Z; missing minor/patch count as 0).
web_node_check() {
  local out
  command -v node >/dev/null 2>&1 || { echo "web: no node on PATH (ci/deps.sh web installs Debian's)" >&2; return 1; }
  if ! out=$(node -e '
    var fs = require("fs");
    var range = (JSON.parse(fs.readFileSync(process.argv[1], "utf8")).engines || {}).node;
    if (!range) { console.log("web/package.json has no engines.node"); process.exit(2); }
    function ver(s) { var p = s.split("."); return [0, 1, 2].map(function (i) { return Number(p[i] || 0); }); }
    function cmp(a, b) { for (var i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1; return 0; }
    var have = ver(process.versions.node);
    function ok(c) {
      var m = /^(\^|>=|>|<=|<|=)?v?(\d+(?:\.\d+){0,2})$/.exec(c);
      if (!m) { console.log("cannot read engines.node comparator \"" + c + "\" in web/package.json"); process.exit(2); }
      var v = ver(m[2]), d = cmp(have, v);
      switch (m[1] || "=") {
        case "^": return d >= 0 && have[0] === v[0];
        case ">=": return d >= 0;
        case ">": return d > 0;
        case "<=": return d <= 0;
        case "<": return d < 0;
        default: return d === 0;
      }
    }
    var fits = range.split("||").some(function (alt) {
      return alt.trim().split(/\s+/).every(ok);
    });
    if (!fits) {
      console.log("Node " + process.version + " is outside what web/package.json engines.node allows (" + range +
        "): the test toolchain (vitest, vite, playwright-core) does not support it. " +
        "Use one it allows; Debian 12\x27s own nodejs and npm packages do.");
      process.exit(1);
    }' "$WEB/package.json"); then
    echo "web: $out" >&2
    return 1
  fi
}

# `npm ci` only when web/package-lock.json or the Node version changed since the last install
# (npm ci wipes node_modules; which optional packages install depends on Node).
web_npm_ci() {
  local stamp="$WEB/node_modules/.procpulse-install" want
  want="$(sha256sum "$WEB/package-lock.json" | cut -d' ' -f1) node $(node --version)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error) || return 1
    echo "$want" >"$stamp"
  fi
}
