using System.Threading.Channels;

namespace CioSegment.Inspector.Index;

/// <summary>Hands what the indexer just committed to the live views (server-sent events). A slow reader loses notes, never slows the indexer.</summary>
public sealed class LiveFeed
{
    private readonly Lock _lock = new();
    private readonly List<Channel<LiveNote>> _readers = [];

    public int Readers
    {
        get
        {
            lock (_lock)
            {
                return _readers.Count;
            }
        }
    }

    public void Publish(IReadOnlyList<LiveNote> notes)
    {
        if (notes.Count == 0)
        {
            return;
        }

        lock (_lock)
        {
            foreach (var reader in _readers)
            {
                foreach (var note in notes)
                {
                    reader.Writer.TryWrite(note);
                }
            }
        }
    }

    /// <summary>Notes of one source (all when null) until <paramref name="cancel"/>.</summary>
    public async IAsyncEnumerable<LiveNote> Follow(string? source, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel)
    {
        var channel = Channel.CreateBounded<LiveNote>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_lock)
        {
            _readers.Add(channel);
        }

        try
        {
            await foreach (var note in channel.Reader.ReadAllAsync(cancel))
            {
                if (source is null || note.Source == source)
                {
                    yield return note;
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _readers.Remove(channel);
            }
        }
    }
}
