#!/usr/bin/env bash
# Regenerates the API reference in docs/api/ from the library's public types and their XML
# documentation: builds the libraries (Release) and tools/apidoc, then runs it.
#   bash docs/api/generate.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
rm -f docs/api/*.md
dotnet run --project tools/apidoc -c Release -- docs/api
