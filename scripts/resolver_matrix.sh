#!/usr/bin/env bash
# The whole catalog against every resolver and checker fakens knows, each lab as shipped and
# with its fix: one `fakens lab verify` run (a CI step of its own, after scripts/test; 34 lab
# runs, about 540 expectations, about 8-9 minutes on 2 cores: slow-servers' delays are real time).
# It enters a private network namespace
# itself (unshare -n), so no resolver can ask anything outside the lab.
# DNSViz (in `--tool all`, a table in every lab) adds about 3 minutes to that: 164 s for
# every lab, broken and fixed, measured alone.
#
#   scripts/resolver_matrix.sh                    # reports in ./matrix-reports/
#   scripts/resolver_matrix.sh out/ --tool kresd  # one tool (arguments after the directory go to verify)
#
# Writes DIR/matrix.json and DIR/matrix.xml (JUnit: a testsuite per lab run, a testcase per
# expectation, classname LAB.TOOL) and exits non-zero when any expectation does not hold.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-matrix-reports}
shift || true
mkdir -p "$out"
tools=("$@")
if [ ${#tools[@]} -eq 0 ]; then
    tools=(--tool all)
fi
exec python -m fakens lab verify --all-shipped --and-fix "${tools[@]}" \
    --json "$out/matrix.json" --junit "$out/matrix.xml" --dir "$out/runs"
