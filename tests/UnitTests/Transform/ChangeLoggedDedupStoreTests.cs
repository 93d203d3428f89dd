using System.Diagnostics.Metrics;
using CioSegment.Processor.Transform;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;

namespace CioSegment.UnitTests.Transform;

/// <summary>The dedup state and its changelog follow the commit: what is written, when it becomes state, what an abort keeps owed.</summary>
public class ChangeLoggedDedupStoreTests
{
    private const long Now = 1_700_000_000_000;

    private readonly ChangeLoggedDedupStore _store = new(
        Substitute.For<IConsumer<byte[]?, byte[]>>(),
        () => throw new InvalidOperationException("no restore in these tests"),
        TransformTestKit.Options,
        new Meter("test-" + Guid.NewGuid()),
        NullLogger.Instance,
        TimeProvider.System);

    private static readonly DedupKey A = DedupKey.ForEvent("acme", "a"u8);
    private static readonly DedupKey B = DedupKey.ForEvent("acme", "b"u8);

    [Fact]
    public void Changelog_records_round_trip()
    {
        var record = _store.Record(1, A, 1234);
        Assert.Equal(TransformTestKit.Options.ChangelogTopic, record.Topic);
        Assert.Equal(1, record.Partition);
        Assert.True(ChangeLoggedDedupStore.TryRead(Consumed(record), out var key, out var expires));
        Assert.Equal(A, key);
        Assert.Equal(1234, expires);

        var tombstone = _store.Record(1, A, null);
        Assert.Null(tombstone.Value);
        Assert.True(ChangeLoggedDedupStore.TryRead(Consumed(tombstone), out _, out var none));
        Assert.Null(none);
    }

    [Fact]
    public void Remembered_keys_are_written_with_the_commit_in_their_partition_and_become_state_once_it_succeeded()
    {
        _store.State.Add(2, A, Now + 60_000);

        var change = Assert.Single(_store.Changes(Now));
        Assert.Equal(2, change.Partition);
        Assert.True(ChangeLoggedDedupStore.TryRead(Consumed(change), out var key, out var expires));
        Assert.Equal((A, Now + 60_000), (key, expires));
        Assert.Equal(0, _store.State.Count);

        _store.Committed();

        Assert.Equal(1, _store.State.Count);
        Assert.True(_store.State.Contains(2, A, Now));
        Assert.Empty(_store.Changes(Now));
    }

    [Fact]
    public void An_abort_forgets_remembered_keys_but_tombstones_stay_owed_until_a_commit_writes_them()
    {
        _store.State.Add(0, A, Now + 1_000);
        _store.Changes(Now);
        _store.Committed();

        // A expires: its tombstone goes with the next commit, which aborts; B, remembered meanwhile, is forgotten.
        _store.State.Add(0, B, Now + 60_000);
        var changes = _store.Changes(Now + 2_000);
        Assert.Equal(2, changes.Count);
        Assert.Contains(changes, c => c.Value is null);
        _store.Aborted();

        Assert.False(_store.State.Contains(0, B, Now + 2_000));
        Assert.True(_store.OwesTombstones);
        var again = Assert.Single(_store.Changes(Now + 2_000));
        Assert.Null(again.Value);
        _store.Committed();

        Assert.False(_store.OwesTombstones);
        Assert.Empty(_store.Changes(Now + 2_000));
        Assert.Equal(0, _store.State.Count);
    }

    [Fact]
    public void A_forgotten_partition_owes_nothing()
    {
        _store.State.Add(3, A, Now + 1_000);
        _store.Changes(Now);
        _store.Committed();
        _store.Changes(Now + 2_000);   // A's tombstone owed
        _store.Aborted();

        _store.Forget(new TopicPartition(TransformTestKit.Options.InputTopic, 3));

        Assert.False(_store.OwesTombstones);
        Assert.Empty(_store.Changes(Now + 2_000));
    }

    private static ConsumeResult<byte[]?, byte[]?> Consumed(OutboundRecord record) =>
        new() { Message = new Message<byte[]?, byte[]?> { Key = record.Key, Value = record.Value } };
}
