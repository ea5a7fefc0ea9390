using System.Text;

namespace Llama2.Core.Tokenization;

/// <summary>
/// Decodes ids one at a time, as SentencePiece's <c>Decode</c> would decode the whole sequence: byte
/// pieces are held until they form a complete UTF-8 character, so a stream never shows half of one, and
/// the concatenation of everything returned equals <see cref="LlamaTokenizer.Decode(ReadOnlySpan{int})"/>.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly LlamaTokenizer _tokenizer;
    private readonly byte[] _pending = new byte[4];
    private int _pendingCount;
    private readonly StringBuilder _output = new();
    private bool _isBosWs = true;   // still at the start: a leading ▁ would be the dummy prefix
    private bool _bosWsSeen;        // the previous piece consumed that leading ▁
    private bool _anyText;

    internal StreamingDecoder(LlamaTokenizer tokenizer) => _tokenizer = tokenizer;

    /// <summary>Adds one id; returns the text it completes (possibly empty).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is not in the vocabulary.</exception>
    public string Append(int id)
    {
        var (piece, _, type) = _tokenizer.PieceAt(_tokenizer.CheckId(id));
        if (type == PieceType.Byte)
        {
            _pending[_pendingCount++] = (byte)LlamaTokenizer.ParseBytePiece(piece);
            DrainPending(final: false);
        }
        else
        {
            DrainPending(final: true);
            if (_bosWsSeen || _anyText)
            {
                _isBosWs = false;
            }

            _bosWsSeen = false;
            switch (type)
            {
                case PieceType.Control:
                    break;
                case PieceType.Unknown:
                    Emit(_tokenizer.Model.Trainer.UnkSurface);
                    break;
                default:
                    var span = piece.AsSpan();
                    if (_isBosWs && (_tokenizer.Model.Normalizer.AddDummyPrefix || _tokenizer.Model.Normalizer.RemoveExtraWhitespaces)
                        && span[0] == LlamaTokenizer.SpaceSymbol)
                    {
                        span = span[1..];
                        _bosWsSeen = !_tokenizer.Model.Normalizer.RemoveExtraWhitespaces;
                    }

                    Emit(span.ToString().Replace(LlamaTokenizer.SpaceSymbol, ' '));
                    break;
            }
        }

        return TakeOutput();
    }

    /// <summary>Ends the stream: held bytes that never completed a character become U+FFFD each.</summary>
    public string Finish()
    {
        DrainPending(final: true);
        return TakeOutput();
    }

    /// <summary>Clears all state, to decode a new sequence.</summary>
    public void Reset()
    {
        _pendingCount = 0;
        _output.Clear();
        _isBosWs = true;
        _bosWsSeen = false;
        _anyText = false;
    }

    private void DrainPending(bool final)
    {
        if (_pendingCount == 0)
        {
            return;
        }

        int before = _output.Length;
        int consumed = Utf8Text.Append(_pending.AsSpan(0, _pendingCount), _output, final);
        _anyText |= _output.Length > before;
        _pending.AsSpan(consumed, _pendingCount - consumed).CopyTo(_pending);
        _pendingCount -= consumed;
    }

    private void Emit(string text)
    {
        _output.Append(text);
        _anyText |= text.Length > 0;
    }

    private string TakeOutput()
    {
        var text = _output.ToString();
        _output.Clear();
        return text;
    }
}
