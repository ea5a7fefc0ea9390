#!/usr/bin/env python3
"""Checks that SentencePiece loads a tokenizer.model and encodes a text file exactly as `llama2 tokenize` does.

    /usr/bin/python3 scripts/compare-with-sentencepiece.py tokenizer.model heldout.txt [llama2 command...]

Each line of the text file is encoded by SentencePiece (python3-sentencepiece) and by the llama2 CLI
(`tokenize --jsonl`); the script prints how many lines agree and exits non-zero on any difference.
"""
import json
import subprocess
import sys

import sentencepiece as spm


def main() -> None:
    model, text_file = sys.argv[1], sys.argv[2]
    command = sys.argv[3:] or ["dotnet", "run", "--project", "src/Llama2.Cli", "-c", "Release", "--"]
    sp = spm.SentencePieceProcessor(model_file=model)
    with open(text_file, encoding="utf-8", errors="replace") as f:
        lines = [line.rstrip("\n") for line in f]
    # The whole file as one text, too (newlines and all).
    texts = lines + ["\n".join(lines)]
    request = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    result = subprocess.run(command + ["tokenize", "--model", model, "--jsonl"], input=request.encode(),
                            capture_output=True, check=True)
    ours = [json.loads(line)["ids"] for line in result.stdout.decode().splitlines()]
    assert len(ours) == len(texts), f"{len(ours)} results for {len(texts)} texts"
    differ = [i for i, t in enumerate(texts) if sp.encode(t) != ours[i]]
    tokens = sum(len(ids) for ids in ours[:-1])
    print(f"SentencePiece {spm.__version__} loaded {model} ({sp.get_piece_size()} pieces); "
          f"{len(texts) - len(differ)}/{len(texts)} texts encode identically "
          f"({len(lines)} lines, {tokens} tokens, plus the whole file as one text)")
    for i in differ[:5]:
        print(f"DIFF {texts[i][:80]!r}: sentencepiece {sp.encode(texts[i])[:20]} ours {ours[i][:20]}")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
