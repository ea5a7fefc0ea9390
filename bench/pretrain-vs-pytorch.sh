#!/usr/bin/env bash
# Side by side: training-step throughput of LlamaModel (TorchSharp) and of the same model in PyTorch, same shape,
# batch, sequence length and threads, alternating runs.
#   bench/pretrain-vs-pytorch.sh [extra flags, e.g. --dim 288 --layers 6 --seq 256 --micro 8]
# Needs: apt-get install -y python3-torch libopenblas0-pthread
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
dotnet build bench/Llama2.Benchmarks -c Release -v q -nologo >/dev/null
for round in 1 2; do
    echo "== round $round"
    dotnet bench/Llama2.Benchmarks/bin/Release/net10.0/Llama2.Benchmarks.dll train-throughput "$@"
    /usr/bin/python3 bench/pretrain_step_pytorch.py "$@"
done
