using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace CioSegment.Processor.Transform;

/// <summary>
/// A dedup state key: 128 bits of XxHash128 over what identifies the event, so every key costs the same
/// few bytes however long the ids are, with a collision chance that is negligible at any realistic volume.
/// </summary>
public readonly record struct DedupKey(ulong High, ulong Low)
{
    public const int Size = 16;

    /// <summary>Retry dedup: (source, event_id) — or the messageId when there is no event_id.</summary>
    public static DedupKey ForEvent(string sourceId, ReadOnlySpan<byte> eventId) => Create((byte)'E', sourceId, eventId, default);

    /// <summary>Send frequency <c>First</c>: (source, delivery_id, metric).</summary>
    public static DedupKey ForFirst(string sourceId, ReadOnlySpan<byte> deliveryId, ReadOnlySpan<byte> metric) => Create((byte)'F', sourceId, deliveryId, metric);

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, High);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Low);
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[Size];
        Write(bytes);
        return bytes;
    }

    public static bool TryRead(ReadOnlySpan<byte> bytes, out DedupKey key)
    {
        key = default;
        if (bytes.Length != Size)
        {
            return false;
        }

        key = new DedupKey(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
        return true;
    }

    private static DedupKey Create(byte kind, string sourceId, ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        // kind, source, 0, a, 0, b: the separators keep ("ab", "c") and ("a", "bc") apart.
        var sourceBytes = Encoding.UTF8.GetByteCount(sourceId);
        var length = 1 + sourceBytes + 1 + a.Length + 1 + b.Length;
        byte[]? rented = null;
        var buffer = length <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(length));
        buffer[0] = kind;
        var n = 1 + Encoding.UTF8.GetBytes(sourceId, buffer[1..]);
        buffer[n++] = 0;
        a.CopyTo(buffer[n..]);
        n += a.Length;
        buffer[n++] = 0;
        b.CopyTo(buffer[n..]);
        n += b.Length;
        var value = XxHash128.HashToUInt128(buffer[..n]);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return new DedupKey((ulong)(value >> 64), (ulong)value);
    }
}
