namespace CioSegment.Mapping;

/// <summary>
/// The growable byte buffer the mapper assembles a track event in. Reused from event to event, so
/// steady-state mapping allocates nothing.
/// </summary>
internal sealed class TrackJsonBuffer
{
    private byte[] _buffer = new byte[8192];
    private int _length;

    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public void Clear() => _length = 0;

    public void Append(byte value)
    {
        if (_length == _buffer.Length)
        {
            Grow(1);
        }

        _buffer[_length++] = value;
    }

    public void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > _buffer.Length - _length)
        {
            Grow(bytes.Length);
        }

        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>Appends UTF-8 text as JSON string content: quotes, backslashes and control characters escaped.</summary>
    public void AppendEscaped(ReadOnlySpan<byte> text)
    {
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var b = text[i];
            if (b >= 0x20 && b != (byte)'"' && b != (byte)'\\')
            {
                continue;
            }

            Append(text[start..i]);
            Append((byte)'\\');
            switch (b)
            {
                case (byte)'"': Append((byte)'"'); break;
                case (byte)'\\': Append((byte)'\\'); break;
                case (byte)'\n': Append((byte)'n'); break;
                case (byte)'\r': Append((byte)'r'); break;
                case (byte)'\t': Append((byte)'t'); break;
                default:
                    Append("u00"u8);
                    Append((byte)"0123456789abcdef"[b >> 4]);
                    Append((byte)"0123456789abcdef"[b & 0xF]);
                    break;
            }

            start = i + 1;
        }

        Append(text[start..]);
    }

    private void Grow(int needed)
    {
        var size = Math.Max(_buffer.Length * 2, _length + needed);
        Array.Resize(ref _buffer, size);
    }
}
