#!/usr/bin/env python3
"""Writes SentencePiece's own encodings of chosen texts, for the C# tokenizer tests.

The tests compare against these files and never need Python. Re-run after changing TEXTS:

    apt-get install -y python3-sentencepiece
    /usr/bin/python3 scripts/make-tokenizer-testdata.py ../shared/fixtures/tiny-gqa/tokenizer.model \
        tests/Llama2.Core.Tests/TestData/tiny-gqa-encode.jsonl \
        ../shared/fixtures/tokenizer/llama2-tokenizer.model tests/Llama2.Core.Tests/TestData/llama2-decode-edge-cases.jsonl
"""
import json
import sys

import sentencepiece as spm

TEXTS = [
    "Hello world",
    " Hello world",
    "Hello  world   again",
    "   leading and trailing   ",
    "The quick brown fox jumps over the lazy dog.",
    "1234567890 and 3.14159, 2023-07-18",
    "tabs\tand\nnewlines\r\nmixed",
    "Ünïcödé: café, naïve, Zürich, São Paulo",
    "Русский текст и English",
    "日本語のテキストと中文",
    "emoji 🦙🔥👍🏽 and flags 🇫🇷",
    "<s>[INST] not control tokens [/INST]</s>",
    "<<SYS>>\nYou are helpful.\n<</SYS>>\n\n",
    "def f(x):\n    return x ** 2  # square\n",
    "aaaa aaaaa aaaaaaaa",
    "  ",
    " ",
    "",
    "\u2581already a meta space",
    "mixed\u00a0non-breaking\u2009thin spaces",
    "a" * 300,
    "The Llama 2 paper (Touvron et al., 2023) describes RLHF, PPO and Ghost Attention.",
]


# Id sequences whose decoding has edge cases (leading ▁, control ids first, broken UTF-8 byte runs),
# decoded with the full Llama 2 vocabulary (../shared/fixtures/tokenizer/llama2-tokenizer.model).
DECODE_IDS = [  # byte piece <0xNN> has id NN + 3
    [29871, 22172],            # "▁" then "▁hello": only the first ▁ is the dummy prefix
    [1, 29871, 22172],         # BOS does not count as text
    [1, 2, 22172, 2, 22172],
    [29871],
    [259, 22172],              # "▁▁" then "▁hello"
    [13, 29871, 22172],        # "<0x0A>" first: text is no longer empty
    [0, 22172],                # <unk> surface
    [229, 135],                # E2 84: truncated UTF-8, then end
    [229, 135, 22172],         # truncated UTF-8, then a normal piece
    [229, 135, 175],           # E2 84 AC: a whole character from bytes
    [243, 162, 169, 156],      # F0 9F A6 99: the llama emoji from bytes
    [195, 22172, 195],         # C0 alone (never valid)
    [131, 22172],              # a lone continuation byte
    [195, 178],                # C0 AF: an overlong encoding
    [240, 131, 131],           # ED 80 80: a valid three-byte character
    [240, 163, 131, 131],      # ED A0 80: a UTF-8-encoded surrogate, then a stray byte
]


def main() -> None:
    model, output = sys.argv[1], sys.argv[2]
    sp = spm.SentencePieceProcessor(model_file=model)
    with open(output, "w", encoding="utf-8") as f:
        for text in TEXTS:
            ids = sp.encode(text)
            f.write(json.dumps({"text": text, "ids": ids, "decoded": sp.decode(ids)}, ensure_ascii=False) + "\n")
    if len(sys.argv) > 4:
        llama = spm.SentencePieceProcessor(model_file=sys.argv[3])
        with open(sys.argv[4], "w", encoding="utf-8") as f:
            for ids in DECODE_IDS:
                f.write(json.dumps({"ids": ids, "text": llama.decode(ids)}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
