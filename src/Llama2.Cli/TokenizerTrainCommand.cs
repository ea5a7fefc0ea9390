using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Llama2.Core.Tokenization;

namespace Llama2.Cli;

/// <summary><c>llama2 tokenizer train</c>: a Llama 2-style SentencePiece BPE tokenizer from text or jsonl files.</summary>
internal static class TokenizerTrainCommand
{
    public static Command Create()
    {
        var defaults = new TokenizerTrainerOptions();
        var input = new Option<string[]>("--input", "-i")
        {
            Description = "Training files: .txt (one sentence per line) or .jsonl ({\"text\"}, {\"messages\"} or {\"prompt\", \"completion\"})",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var vocabSize = new Option<int>("--vocab-size") { Description = "Total pieces, including <unk> <s> </s> and 256 byte pieces", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Where to write tokenizer.model", Required = true };
        var coverage = new Option<double>("--character-coverage") { Description = "Fraction of characters the alphabet covers", DefaultValueFactory = _ => defaults.CharacterCoverage };
        var maxPiece = new Option<int>("--max-piece-length") { Description = "Longest piece in characters", DefaultValueFactory = _ => defaults.MaxPieceLength };
        var noSplitDigits = new Option<bool>("--no-split-digits") { Description = "Allow multi-digit pieces (Llama 2 splits digits)" };
        var noByteFallback = new Option<bool>("--no-byte-fallback") { Description = "Encode unknown characters as <unk> instead of bytes" };
        var noWhitespacePieces = new Option<bool>("--no-whitespace-pieces") { Description = "Forbid pieces made only of spaces" };
        var noScriptSplit = new Option<bool>("--no-script-split") { Description = "Allow pieces that mix Unicode scripts" };

        var train = new Command("train", "Train a SentencePiece BPE tokenizer with Llama 2's options (split digits, byte fallback, identity normalizer, dummy prefix, whitespace pieces)")
        {
            input, vocabSize, output, coverage, maxPiece, noSplitDigits, noByteFallback, noWhitespacePieces, noScriptSplit,
        };
        train.SetAction(parse => CliRunner.Run(() =>
        {
            var options = new TokenizerTrainerOptions
            {
                VocabSize = parse.GetValue(vocabSize),
                CharacterCoverage = parse.GetValue(coverage),
                MaxPieceLength = parse.GetValue(maxPiece),
                SplitDigits = !parse.GetValue(noSplitDigits),
                ByteFallback = !parse.GetValue(noByteFallback),
                AllowWhitespaceOnlyPieces = !parse.GetValue(noWhitespacePieces),
                SplitByUnicodeScript = !parse.GetValue(noScriptSplit),
            };
            if (options.CharacterCoverage is <= 0 or > 1)
            {
                throw new CliException($"--character-coverage must be in (0, 1], got {options.CharacterCoverage}");
            }

            if (options.MaxPieceLength < 1)
            {
                throw new CliException($"--max-piece-length must be at least 1, got {options.MaxPieceLength}");
            }

            var files = parse.GetRequiredValue(input);
            foreach (var file in files)
            {
                if (!File.Exists(file))
                {
                    throw new CliException($"{file}: no such file");
                }
            }

            var clock = Stopwatch.StartNew();
            var progress = new Progress<string>(message => Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] {message}"));
            var model = TokenizerTrainer.Train(files.SelectMany(ReadSentences), options, progress);
            var path = parse.GetRequiredValue(output);
            model.Save(path);
            Console.Error.WriteLine($"wrote {path}: {model.Pieces.Count} pieces in {clock.Elapsed.TotalSeconds:F1} s");
            if (model.Pieces.Count < options.VocabSize)
            {
                Console.Error.WriteLine($"warning: the text allowed only {model.Pieces.Count} of the {options.VocabSize} pieces asked for");
            }

            return 0;
        }));

        return new Command("tokenizer", "Tokenizer tools") { train };
    }

    /// <summary>Sentences of a file: lines of a .txt, or the lines of each text field of a .jsonl.</summary>
    internal static IEnumerable<string> ReadSentences(string path)
    {
        bool jsonl = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        int number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (!jsonl)
            {
                yield return line;
                continue;
            }

            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            List<string> texts;
            try
            {
                texts = TextsOf(line);
            }
            catch (JsonException e)
            {
                throw new CliException($"{path}:{number}: not valid JSON ({e.Message})");
            }

            foreach (var text in texts)
            {
                foreach (var sentence in text.Split('\n'))
                {
                    yield return sentence;
                }
            }
        }
    }

    private static List<string> TextsOf(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        var texts = new List<string>();
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException("each line must be a JSON object");
        }

        foreach (var name in new[] { "text", "prompt", "completion" })
        {
            if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
            {
                texts.Add(value.GetString()!);
            }
        }

        if (root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            foreach (var message in messages.EnumerateArray())
            {
                if (message.ValueKind == JsonValueKind.Object && message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                {
                    texts.Add(content.GetString()!);
                }
            }
        }

        return texts.Count > 0 ? texts : throw new JsonException("the object has no \"text\", \"prompt\"/\"completion\" or \"messages\" field");
    }
}
