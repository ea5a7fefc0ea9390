#!/usr/bin/env bash
# Our engine and llama.cpp (LLamaSharp) on the same random-weight GGUF of a real Llama 2 shape, alternating runs.
#   bench/engine-vs-llamacpp.sh PRESET TYPE [THREADS...]     e.g.  bench/engine-vs-llamacpp.sh bench q8_0 1 2
# Prints Markdown rows: | model | test | threads | ours t/s | llama.cpp t/s | ratio |
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-bench}; type=${2:-q8_0}; shift 2 || true
threads=("$@"); [ ${#threads[@]} -gt 0 ] || threads=(1 2)
model=${LLAMA2_BENCH_DIR:-/tmp}/llama2-$preset-$type.gguf
dotnet build src/Llama2.Cli -c Release -v q -nologo >/dev/null
dotnet build bench/Llama2.Benchmarks -c Release -v q -nologo >/dev/null
[ -f "$model" ] || dotnet src/Llama2.Cli/bin/Release/net10.0/llama2.dll bench model --preset "$preset" --type "$type" --output "$model"
prompt=${PROMPT:-128}; gen=${GEN:-64}
if [ "$preset" = "7b" ] || [ "$preset" = "13b" ]; then prompt=${PROMPT:-64}; gen=${GEN:-32}; fi
echo "| model | test | threads | ours t/s | llama.cpp t/s | ratio |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for t in "${threads[@]}"; do
    dotnet bench/Llama2.Benchmarks/bin/Release/net10.0/Llama2.Benchmarks.dll side-by-side --model "$model" -p "$prompt" -n "$gen" -t "$t" -r "${REPS:-3}" 2>/dev/null | grep '^|'
done
