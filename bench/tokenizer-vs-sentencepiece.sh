#!/usr/bin/env bash
# Side by side: encode throughput of our tokenizer and of SentencePiece (C++ via python3-sentencepiece) on the
# same text, same vocabulary, one line per call, one thread each, alternating runs.
#   bench/tokenizer-vs-sentencepiece.sh [TEXT_FILE] [tokenizer.model]
# Needs: apt-get install -y python3-sentencepiece. Default text: ~4 MB of Vim's documentation (English prose and
# code) plus the fixture texts (many scripts), when those exist on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${2:-../shared/fixtures/tokenizer/llama2-tokenizer.model}
text=${1:-}
if [ -z "$text" ]; then
    text=$(mktemp --suffix=.txt)
    trap 'rm -f "$text"' EXIT
    if ls /usr/share/vim/vim9*/doc/*.txt >/dev/null 2>&1; then (cat /usr/share/vim/vim9*/doc/*.txt | head -c 4000000 >> "$text") || true; fi
    /usr/bin/python3 -c "import json,sys; [print(json.loads(l)['text'].replace('\n',' ')) for l in open(sys.argv[1])]" \
        ../shared/fixtures/tokenizer/encode-cases.jsonl >> "$text"
fi
dotnet build bench/Llama2.Benchmarks -c Release -v q -nologo >/dev/null
for round in 1 2; do
    echo "== round $round"
    dotnet bench/Llama2.Benchmarks/bin/Release/net10.0/Llama2.Benchmarks.dll tokenizer-throughput --model "$model" --text "$text" --repeat 3
    /usr/bin/python3 - "$model" "$text" <<'PY'
import sys, time
import sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
lines = open(sys.argv[2], encoding="utf-8", errors="replace").read().split("\n")
mb = sum(len(l.encode()) for l in lines) / 1e6
times, tokens = [], 0
for _ in range(3):
    t = time.perf_counter()
    tokens = sum(len(sp.encode(l)) for l in lines)
    times.append(time.perf_counter() - t)
t = time.perf_counter(); sp.encode(lines); batch = time.perf_counter() - t
times.sort()
print(f"SentencePiece {spm.__version__} {mb:.2f} MB, {len(lines)} lines, {tokens} tokens: {mb / times[0]:.2f} MB/s "
      f"(median {mb / times[1]:.2f}); one batched call over all lines {mb / batch:.2f} MB/s")
PY
done
