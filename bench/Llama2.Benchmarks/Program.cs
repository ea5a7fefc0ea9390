using BenchmarkDotNet.Running;
using Llama2.Benchmarks;

// `tokenizer-throughput --model M --text F [--repeat N]`: a plain timing loop, used by
// bench/tokenizer-vs-sentencepiece.sh to run side by side with SentencePiece.
// Anything else goes to BenchmarkDotNet, e.g. `--filter *Tokenizer*`.
if (args.Length > 0 && args[0] == "tokenizer-throughput")
{
    return TokenizerThroughput.Run(args[1..]);
}

// `side-by-side --model F.gguf …`: our engine and llama.cpp (LLamaSharp) on the same file; see bench/README.md.
if (args.Length > 0 && args[0] == "side-by-side")
{
    return SideBySide.Run(args[1..]);
}

// `train-throughput [--dim N …]`: used by bench/pretrain-vs-pytorch.sh.
if (args.Length > 0 && args[0] == "train-throughput")
{
    return TrainThroughput.Run(args[1..]);
}

// `server-load --model F [--clients 1,8] [--requests 20]`: the OpenAI server under concurrent streaming clients.
if (args.Length > 0 && args[0] == "server-load")
{
    return ServerLoad.Run(args[1..]);
}

// `fixture-kl --fixtures DIR --model F.gguf`: KL from Meta's logits of ours and llama.cpp's on a tiny-gqa file of any type.
if (args.Length > 0 && args[0] == "fixture-kl")
{
    return FixtureKl.Run(args[1..]);
}

// `quantize SRC.gguf DST.gguf TYPE` (q5_k_m, q3_k_m, q2_k, …): llama.cpp's own quantizer (LLamaSharp), for bench files
// of the types `llama2 bench model` cannot write; see bench/README.md.
if (args.Length == 4 && args[0] == "quantize")
{
    LLama.Native.NativeApi.llama_empty_call(); // loads the native library (its resolver) before the quantizer's own imports
    // the exact enum name first: LLamaSharp's string overload takes "q2_k" for both MOSTLY_Q2_K and MOSTLY_Q2_K_S
    bool done = Enum.TryParse<LLama.Native.LLamaFtype>("MOSTLY_" + args[3].ToUpperInvariant(), out var ftype)
        ? LLama.LLamaQuantizer.Quantize(args[1], args[2], ftype, nthread: Environment.ProcessorCount, allowRequantize: true, quantizeOutputTensor: true)
        : LLama.LLamaQuantizer.Quantize(args[1], args[2], args[3], nthread: Environment.ProcessorCount, allowRequantize: true, quantizeOutputTensor: true);
    Console.Error.WriteLine(done ? $"wrote {args[2]} ({args[3]})" : $"llama.cpp could not quantize {args[1]} to {args[3]}");
    return done ? 0 : 1;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
