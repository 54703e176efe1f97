#!/usr/bin/env bash
# Installs the code generators and linters into the git-ignored .bin/ (never
# as tool lines in go.mod: their dependency graphs clash with the product's).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOBIN="$PWD/.bin"
need() { [ -x "$GOBIN/$1" ] || { echo "tools: installing $1 $2"; go install "$2@$3"; }; }
case "${1:-all}" in
gen|all)
  need protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go v1.36.12
  need protoc-gen-connect-go connectrpc.com/connect/cmd/protoc-gen-connect-go v1.21.1
  need buf github.com/bufbuild/buf/cmd/buf v1.75.0
  ;;&
lint|all)
  need staticcheck honnef.co/go/tools/cmd/staticcheck v0.8.2
  ;;
esac
