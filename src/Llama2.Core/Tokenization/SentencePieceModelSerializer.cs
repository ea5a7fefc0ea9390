using Llama2.Core.IO;

namespace Llama2.Core.Tokenization;

/// <summary>
/// Reads and writes SentencePiece's <c>ModelProto</c> (field numbers from <c>sentencepiece_model.proto</c>).
/// Unknown fields are skipped, as protobuf requires; known fields are type-checked.
/// </summary>
internal static class SentencePieceModelSerializer
{
    // ModelProto
    private const int PiecesField = 1, TrainerSpecField = 2, NormalizerSpecField = 3;

    // ModelProto.SentencePiece
    private const int PieceField = 1, ScoreField = 2, TypeField = 3;

    // NormalizerSpec
    private const int NameField = 1, AddDummyPrefixField = 3, RemoveExtraWhitespacesField = 4, EscapeWhitespacesField = 5;
    private const int PrecompiledCharsmapField = 2;

    // TrainerSpec
    private const int ModelTypeField = 3, VocabSizeField = 4, CharacterCoverageField = 10, MaxSentencePieceLengthField = 20;
    private const int SplitByUnicodeScriptField = 21, SplitByWhitespaceField = 22, SplitByNumberField = 23;
    private const int TreatWhitespaceAsSuffixField = 24, SplitDigitsField = 25, AllowWhitespaceOnlyPiecesField = 26;
    private const int ByteFallbackField = 35, UnkIdField = 40, BosIdField = 41, EosIdField = 42, PadIdField = 43;
    private const int UnkSurfaceField = 44, UnkPieceField = 45, BosPieceField = 46, EosPieceField = 47, PadPieceField = 48;

    /// <summary>Upper bound on the vocabulary, so a hostile file cannot make us allocate without limit.</summary>
    private const int MaxPieces = 4_000_000;

    public static SentencePieceModel Read(ReadOnlySpan<byte> data)
    {
        var pieces = new List<VocabularyPiece>();
        var normalizer = new NormalizerSpec { RemoveExtraWhitespaces = true }; // proto2 defaults
        var trainer = new TrainerSpec
        {
            ModelType = 1, VocabSize = 8000, CharacterCoverage = 0.9995f, SplitByNumber = true, SplitDigits = false,
            AllowWhitespaceOnlyPieces = false, ByteFallback = false,
        };
        bool sawNormalizer = false;
        var reader = new ProtoReader(data);
        while (reader.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case PiecesField:
                    ProtoReader.Expect(field, wire, WireType.LengthDelimited);
                    if (pieces.Count >= MaxPieces)
                    {
                        throw new FormatException($"more than {MaxPieces} pieces");
                    }

                    pieces.Add(ReadPiece(reader.ReadBytes()));
                    break;
                case TrainerSpecField:
                    ProtoReader.Expect(field, wire, WireType.LengthDelimited);
                    trainer = ReadTrainerSpec(reader.ReadBytes(), trainer);
                    break;
                case NormalizerSpecField:
                    ProtoReader.Expect(field, wire, WireType.LengthDelimited);
                    normalizer = ReadNormalizerSpec(reader.ReadBytes(), normalizer);
                    sawNormalizer = true;
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        if (pieces.Count == 0)
        {
            throw new FormatException("the model has no pieces");
        }

        if (!sawNormalizer)
        {
            throw new FormatException("the model has no normalizer_spec");
        }

        return new SentencePieceModel(pieces, normalizer, trainer);
    }

    private static VocabularyPiece ReadPiece(ReadOnlySpan<byte> data)
    {
        string? piece = null;
        float score = 0;
        var type = PieceType.Normal;
        var reader = new ProtoReader(data);
        while (reader.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case PieceField:
                    ProtoReader.Expect(field, wire, WireType.LengthDelimited);
                    piece = reader.ReadString();
                    break;
                case ScoreField:
                    ProtoReader.Expect(field, wire, WireType.Fixed32);
                    score = reader.ReadFloat();
                    break;
                case TypeField:
                    ProtoReader.Expect(field, wire, WireType.Varint);
                    int value = reader.ReadInt32();
                    if (value is < 1 or > 6)
                    {
                        throw new FormatException($"piece type {value} is not one of SentencePiece's types 1..6");
                    }

                    type = (PieceType)value;
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        if (string.IsNullOrEmpty(piece))
        {
            throw new FormatException("a piece is empty");
        }

        return new VocabularyPiece(piece, score, type);
    }

    private static NormalizerSpec ReadNormalizerSpec(ReadOnlySpan<byte> data, NormalizerSpec spec)
    {
        var reader = new ProtoReader(data);
        while (reader.TryReadTag(out int field, out var wire))
        {
            switch (field)
            {
                case NameField:
                    ProtoReader.Expect(field, wire, WireType.LengthDelimited);
                    spec = spec with { Name = reader.ReadString() };
                    break;
                case PrecompiledCharsmapField:
                    ProtoReader.Expect(field, wire, WireType.LengthDelimited);
                    if (reader.ReadBytes().Length > 0)
                    {
                        throw new FormatException(
                            "the normalizer has a precompiled character map (for example nmt_nfkc); only the identity normalizer of Llama 2 is supported");
                    }

                    break;
                case AddDummyPrefixField:
                    ProtoReader.Expect(field, wire, WireType.Varint);
                    spec = spec with { AddDummyPrefix = reader.ReadBool() };
                    break;
                case RemoveExtraWhitespacesField:
                    ProtoReader.Expect(field, wire, WireType.Varint);
                    spec = spec with { RemoveExtraWhitespaces = reader.ReadBool() };
                    break;
                case EscapeWhitespacesField:
                    ProtoReader.Expect(field, wire, WireType.Varint);
                    spec = spec with { EscapeWhitespaces = reader.ReadBool() };
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return spec;
    }

    private static TrainerSpec ReadTrainerSpec(ReadOnlySpan<byte> data, TrainerSpec spec)
    {
        var reader = new ProtoReader(data);
        while (reader.TryReadTag(out int field, out var wire))
        {
            spec = field switch
            {
                ModelTypeField => spec with { ModelType = Int(ref reader, field, wire) },
                VocabSizeField => spec with { VocabSize = Int(ref reader, field, wire) },
                CharacterCoverageField => spec with { CharacterCoverage = Float(ref reader, field, wire) },
                MaxSentencePieceLengthField => spec with { MaxSentencePieceLength = Int(ref reader, field, wire) },
                SplitByUnicodeScriptField => spec with { SplitByUnicodeScript = Bool(ref reader, field, wire) },
                SplitByWhitespaceField => spec with { SplitByWhitespace = Bool(ref reader, field, wire) },
                SplitByNumberField => spec with { SplitByNumber = Bool(ref reader, field, wire) },
                TreatWhitespaceAsSuffixField => spec with { TreatWhitespaceAsSuffix = Bool(ref reader, field, wire) },
                SplitDigitsField => spec with { SplitDigits = Bool(ref reader, field, wire) },
                AllowWhitespaceOnlyPiecesField => spec with { AllowWhitespaceOnlyPieces = Bool(ref reader, field, wire) },
                ByteFallbackField => spec with { ByteFallback = Bool(ref reader, field, wire) },
                UnkIdField => spec with { UnkId = Int(ref reader, field, wire) },
                BosIdField => spec with { BosId = Int(ref reader, field, wire) },
                EosIdField => spec with { EosId = Int(ref reader, field, wire) },
                PadIdField => spec with { PadId = Int(ref reader, field, wire) },
                UnkSurfaceField => spec with { UnkSurface = String(ref reader, field, wire) },
                _ => Skip(ref reader, wire, spec),
            };
        }

        return spec;

        static int Int(ref ProtoReader r, int field, WireType wire)
        {
            ProtoReader.Expect(field, wire, WireType.Varint);
            return r.ReadInt32();
        }

        static bool Bool(ref ProtoReader r, int field, WireType wire)
        {
            ProtoReader.Expect(field, wire, WireType.Varint);
            return r.ReadBool();
        }

        static float Float(ref ProtoReader r, int field, WireType wire)
        {
            ProtoReader.Expect(field, wire, WireType.Fixed32);
            return r.ReadFloat();
        }

        static string String(ref ProtoReader r, int field, WireType wire)
        {
            ProtoReader.Expect(field, wire, WireType.LengthDelimited);
            return r.ReadString();
        }

        static TrainerSpec Skip(ref ProtoReader r, WireType wire, TrainerSpec s)
        {
            r.Skip(wire);
            return s;
        }
    }

    public static byte[] Write(SentencePieceModel model)
    {
        var root = new ProtoWriter();
        foreach (var p in model.Pieces)
        {
            var piece = new ProtoWriter();
            piece.WriteString(PieceField, p.Piece);
            piece.WriteFloat(ScoreField, p.Score);
            if (p.Type != PieceType.Normal)
            {
                piece.WriteVarint(TypeField, (int)p.Type);
            }

            root.WriteMessage(PiecesField, piece);
        }

        var t = model.Trainer;
        var trainer = new ProtoWriter();
        trainer.WriteVarint(ModelTypeField, t.ModelType);
        trainer.WriteVarint(VocabSizeField, t.VocabSize);
        trainer.WriteFloat(CharacterCoverageField, t.CharacterCoverage);
        trainer.WriteVarint(MaxSentencePieceLengthField, t.MaxSentencePieceLength);
        trainer.WriteBool(SplitByUnicodeScriptField, t.SplitByUnicodeScript);
        trainer.WriteBool(SplitByWhitespaceField, t.SplitByWhitespace);
        trainer.WriteBool(SplitByNumberField, t.SplitByNumber);
        trainer.WriteBool(TreatWhitespaceAsSuffixField, t.TreatWhitespaceAsSuffix);
        trainer.WriteBool(SplitDigitsField, t.SplitDigits);
        trainer.WriteBool(AllowWhitespaceOnlyPiecesField, t.AllowWhitespaceOnlyPieces);
        trainer.WriteBool(ByteFallbackField, t.ByteFallback);
        trainer.WriteVarint(UnkIdField, t.UnkId);
        trainer.WriteVarint(BosIdField, t.BosId);
        trainer.WriteVarint(EosIdField, t.EosId);
        trainer.WriteVarint(PadIdField, t.PadId);
        trainer.WriteString(UnkSurfaceField, t.UnkSurface);
        trainer.WriteString(UnkPieceField, "<unk>");
        trainer.WriteString(BosPieceField, "<s>");
        trainer.WriteString(EosPieceField, "</s>");
        trainer.WriteString(PadPieceField, "<pad>");
        root.WriteMessage(TrainerSpecField, trainer);

        var n = model.Normalizer;
        var normalizer = new ProtoWriter();
        normalizer.WriteString(NameField, n.Name);
        normalizer.WriteBytes(PrecompiledCharsmapField, []);
        normalizer.WriteBool(AddDummyPrefixField, n.AddDummyPrefix);
        normalizer.WriteBool(RemoveExtraWhitespacesField, n.RemoveExtraWhitespaces);
        normalizer.WriteBool(EscapeWhitespacesField, n.EscapeWhitespaces);
        root.WriteMessage(NormalizerSpecField, normalizer);
        return root.ToArray();
    }
}
