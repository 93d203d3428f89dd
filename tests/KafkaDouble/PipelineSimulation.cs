using System.Text;
using System.Text.Json;
using CioSegment.Contracts;
using CioSegment.Processor.Transform;
using Confluent.Kafka;
using Microsoft.Extensions.Time.Testing;

namespace CioSegment.KafkaDouble;

/// <summary>
/// One seeded schedule of the production pipeline behind the ingest over the Kafka double: two transformer
/// pods (loop, transformer, dedup store) with their own transactional.id and two publisher pods
/// (<c>BatchPublisher</c>) in front of a <see cref="SegmentDouble"/>, on a simulated clock. Webhooks arrive in
/// bursts (retries among them, some that cannot be mapped, some whose event Segment refuses); random steps
/// process, commit, crash pods (all in-memory state dropped), restart them, expel them from their group (lost
/// partitions), inject Kafka faults, take the Schema Registry down and make Segment fail for a while (5xx,
/// 429, 401, 404, timeouts, answers lost after storing, connection and unexpected errors); then the faults stop
/// and the pods drain. The same seed always runs the same schedule.
/// <para>Invariants, checked as it runs and at the end:</para>
/// <list type="bullet">
/// <item>every webhook appears exactly once in the committed sink output, or once in the dead-letter topic
/// with the reason its shape gets (never because of a fault), and each of its retries exactly once on the
/// outcomes topic as deduplicated;</item>
/// <item>after every commit, a transformer pod's in-memory dedup state equals the committed changelog of its partitions;</item>
/// <item>no exception leaves a loop but a fatal Kafka error (on which the process exits, to be restarted);</item>
/// <item>the publisher group's committed offsets never pass a sink record that Segment has not stored or
/// that is not in the publisher's dead-letter topic;</item>
/// <item>at the end every committed sink record was stored by Segment at least once, each person's events
/// were first stored in their order, only the events Segment refuses are dead-lettered (reason
/// <c>segment_rejected</c>), no partition is left paused, nothing is left buffered, and the groups'
/// committed offsets cover the raw and sink topics with no transaction left open.</item>
/// </list>
/// </summary>
internal sealed class PipelineSimulation(int seed)
{
    private const double FaultRate = 0.03;

    private static readonly Dictionary<FaultPoint, FaultKind[]> FaultsAt = new()
    {
        [FaultPoint.Produce] = [FaultKind.QueueFull, FaultKind.Abortable, FaultKind.Fatal],
        [FaultPoint.SendOffsetsToTransaction] = [FaultKind.Retriable, FaultKind.Abortable, FaultKind.Fenced],
        [FaultPoint.CommitTransaction] = [FaultKind.Retriable, FaultKind.RetriableCompleted, FaultKind.Abortable, FaultKind.Fatal, FaultKind.UnknownOutcome, FaultKind.Fenced],
        [FaultPoint.AbortTransaction] = [FaultKind.Retriable, FaultKind.Fatal],
        [FaultPoint.InitTransactions] = [FaultKind.Retriable],
        [FaultPoint.Committed] = [FaultKind.Retriable],
        [FaultPoint.ConsumerCommit] = [FaultKind.Retriable],
    };

    private static readonly SegmentFault[] SegmentFaults = Enum.GetValues<SegmentFault>().Where(f => f != SegmentFault.None).ToArray();

    private readonly Random _random = new(seed);
    private readonly TransformerProcess?[] _pods = new TransformerProcess?[2];
    private readonly PublisherProcess?[] _publishers = new PublisherProcess?[2];
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly SegmentDouble _segment = new(TransformerProcess.WriteKey);
    private readonly RegistryDouble _registry = new();
    private SegmentFault _segmentFault;
    private int _segmentFaultSteps;
    private int _registryDownSteps;
    private readonly Dictionary<string, string> _expected = [];
    private readonly List<(string Body, string Key)> _sent = [];
    private KafkaCluster _cluster = null!;

    public int Seed { get; } = seed;

    public List<string> Violations { get; } = [];

    /// <summary>Crashes, exits, expulsions, commits and Segment requests of this schedule.</summary>
    public SimulationCounts Counts { get; } = new();

    public int RegistryFailures => _registry.Failures;

    public IReadOnlyDictionary<SegmentFault, int> SegmentInjected => _segment.Injected;

    public IReadOnlyDictionary<(FaultPoint Point, FaultKind Kind), int> Injected => _cluster.Faults.InjectedAll();

    public PipelineSimulation Run(int steps = 300)
    {
        _cluster = TransformerProcess.Cluster(partitions: 1 + _random.Next(3));
        _cluster.CreateTopic(PublisherProcess.DeadLetters, 1);
        _cluster.CreateTopic(PublisherProcess.Held, _cluster.PartitionsOf(TransformerProcess.Sink).Count());
        _cluster.Faults.Random = point => FaultsAt.TryGetValue(point, out var kinds) && _random.NextDouble() < FaultRate
            ? kinds[_random.Next(kinds.Length)]
            : FaultKind.None;
        _segment.Fault = () =>
            _segmentFaultSteps > 0 && _random.NextDouble() < 0.8 ? _segmentFault
            : _random.NextDouble() < FaultRate ? SegmentFaults[_random.Next(SegmentFaults.Length)]
            : SegmentFault.None;
        _registry.Down = () => _registryDownSteps > 0;
        Start(0);
        StartPublisher(0);

        for (var step = 0; step < steps && Violations.Count == 0; step++)
        {
            Tick(TimeSpan.FromMilliseconds(_random.Next(100)));
            if (_random.NextDouble() < 0.4)
            {
                PublisherStep();
                continue;
            }

            var roll = _random.NextDouble();
            var pod = _random.Next(_pods.Length);
            if (roll < 0.06)
            {
                IngestBurst();
            }
            else if (roll < 0.08)
            {
                Crash(pod);
            }
            else if (roll < 0.12)
            {
                Start(pod);
            }
            else if (roll < 0.13 && _pods[pod] is { } expelled)
            {
                expelled.Consumer.Expel();
                Counts.Expulsions++;
            }
            else if (roll < 0.20)
            {
                Step(pod, commit: true);
            }
            else
            {
                Step(pod, commit: false);
            }
        }

        // Faults stop; every pod comes back (a StatefulSet restarts them) and drains.
        _cluster.Faults.Random = null;
        _segment.Fault = () => SegmentFault.None;
        _registry.Down = () => false;
        IngestBurst();
        for (var pod = 0; pod < _pods.Length; pod++)
        {
            Start(pod);
            StartPublisher(pod);
        }

        for (var round = 0; round < 4000 && Violations.Count == 0 && !(Drained() && PublishersDrained()); round++)
        {
            Tick(TimeSpan.FromMilliseconds(50));
            for (var pod = 0; pod < _pods.Length; pod++)
            {
                Start(pod);
                Step(pod, commit: round % 4 == 3);
                StartPublisher(pod);
                RunPublisher(pod);
            }
        }

        if (Violations.Count == 0)
        {
            CheckOutcome();
        }

        if (Violations.Count == 0)
        {
            CheckDelivery();
        }

        Counts.SegmentRequests = _segment.Requests;
        Counts.Parked = HeldMessageIds().LongCount();
        return this;
    }

    /// <summary>Time passes: fault windows close, and timers that are due fire (retries, backoffs) on this thread.</summary>
    private void Tick(TimeSpan elapsed)
    {
        _segmentFaultSteps = Math.Max(0, _segmentFaultSteps - 1);
        _registryDownSteps = Math.Max(0, _registryDownSteps - 1);
        _clock.Advance(elapsed);
    }

    private void PublisherStep()
    {
        var roll = _random.NextDouble();
        var pod = _random.Next(_publishers.Length);
        if (roll < 0.02 && _publishers[pod] is { } crashed)
        {
            crashed.Kill();
            _publishers[pod] = null;
            Counts.PublisherCrashes++;
        }
        else if (roll < 0.06)
        {
            StartPublisher(pod);
        }
        else if (roll < 0.07 && _publishers[pod] is { } expelled)
        {
            expelled.Consumer.Expel();
            Counts.PublisherExpulsions++;
        }
        else if (roll < 0.10)
        {
            _segmentFault = SegmentFaults[_random.Next(SegmentFaults.Length)];
            _segmentFaultSteps = 1 + _random.Next(30);
        }
        else if (roll < 0.12)
        {
            _registryDownSteps = 1 + _random.Next(20);
        }
        else
        {
            RunPublisher(pod);
        }
    }

    private void StartPublisher(int pod)
    {
        if (_publishers[pod] is null)
        {
            _publishers[pod] = new PublisherProcess(_cluster, PublisherProcess.DefaultOptions(_random), _segment, _registry, _clock, _random.NextDouble, TransformerProcess.DefaultSources());
        }
    }

    private void RunPublisher(int pod)
    {
        if (_publishers[pod] is not { } process)
        {
            return;
        }

        try
        {
            process.Publisher.RunOnce(TimeSpan.Zero);
        }
        catch (KafkaException e) when (e.Error.IsFatal)
        {
            // Designed exit (the dead-letter producer is unusable): the process stops and is restarted.
            process.Kill();
            _publishers[pod] = null;
            Counts.PublisherExits++;
        }
        catch (Exception e)
        {
            Violations.Add($"publisher-{pod}: {e.GetType().Name} left the loop: {e.Message}");
            return;
        }

        CheckCommittedWereDelivered();
    }

    /// <summary>
    /// Below the publisher group's committed offset, every committed sink record is stored by Segment,
    /// dead-lettered or parked in the held topic; below the held group's, every held record is stored by
    /// Segment or dead-lettered.
    /// </summary>
    private void CheckCommittedWereDelivered()
    {
        HashSet<string>? dead = null;
        HashSet<string>? parked = null;
        bool Stored(string id) => _segment.Stored.ContainsKey(id) || (dead ??= PublisherDeadLetters().Select(d => d.MessageId).ToHashSet()).Contains(id);
        _ = CheckCommitted(TransformerProcess.Sink, PublisherProcess.GroupId, id => Stored(id) || (parked ??= HeldMessageIds().ToHashSet()).Contains(id), "which is not dead-lettered and not parked")
            && CheckCommitted(PublisherProcess.Held, PublisherProcess.HeldGroupId, Stored, "and which is not dead-lettered");
    }

    /// <summary>Below <paramref name="group"/>'s committed offset of each partition of <paramref name="topic"/>, every sink record is <paramref name="settled"/>; false after the first violation.</summary>
    private bool CheckCommitted(string topic, string group, Func<string, bool> settled, string otherwise)
    {
        foreach (var tp in _cluster.PartitionsOf(topic))
        {
            var committed = _cluster.Committed(group, tp).Value;
            foreach (var entry in _cluster.CommittedEntries(tp).Where(e => e.Offset < committed))
            {
                var id = SinkRecords.Read(entry.Message!.Value!).MessageId;
                if (!settled(id))
                {
                    Violations.Add($"publisher: {group}'s committed offset {committed} of {tp} passes {id} (offset {entry.Offset}), which Segment never stored {otherwise}");
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>What is left: each publisher's buffer, and each sink and held partition's committed offset against its end.</summary>
    private string DrainState()
    {
        string Of(string topic, string group) => string.Join(" ", _cluster.PartitionsOf(topic).Select(tp =>
            $"{tp.Partition.Value}:{_cluster.Committed(group, tp).Value}/{_cluster.CommittedEntries(tp).Select(e => e.Offset + 1).DefaultIfEmpty(0).Max()}"));
        return $"buffered [{string.Join(",", _publishers.Select(p => p?.Publisher.Buffered.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "down"))}]"
            + $", held assigned [{string.Join(" | ", _publishers.Select(p => p is null ? "" : string.Join(",", p.HeldConsumer.Assignment.Select(tp => tp.Partition.Value))))}]"
            + $", paused held [{string.Join(" | ", _publishers.Select(p => p is null ? "" : string.Join(",", p.HeldConsumer.Paused.Select(tp => tp.Partition.Value))))}]"
            + $"; sink committed/end {Of(TransformerProcess.Sink, PublisherProcess.GroupId)}; held committed/end {Of(PublisherProcess.Held, PublisherProcess.HeldGroupId)}";
    }

    /// <summary>The messageIds parked in the held topic so far.</summary>
    private IEnumerable<string> HeldMessageIds() =>
        _cluster.PartitionsOf(PublisherProcess.Held).SelectMany(_cluster.CommittedEntries).Select(e => SinkRecords.Read(e.Message!.Value!).MessageId);

    private bool PublishersDrained()
    {
        if (_publishers.Any(p => p is null || p.Publisher.Buffered > 0))
        {
            return false;
        }

        // Everything read and committed, the parked events too.
        return FullyCommitted(TransformerProcess.Sink, PublisherProcess.GroupId) && FullyCommitted(PublisherProcess.Held, PublisherProcess.HeldGroupId);
    }

    /// <summary>No committed record of <paramref name="topic"/> lies past <paramref name="group"/>'s committed offsets.</summary>
    private bool FullyCommitted(string topic, string group)
    {
        foreach (var tp in _cluster.PartitionsOf(topic))
        {
            var committed = _cluster.Committed(group, tp);
            if (_cluster.ReadNext(tp, Math.Max(0, committed.Value), IsolationLevel.ReadCommitted, out _) is not null)
            {
                return false;
            }
        }

        return true;
    }

    private List<(string MessageId, string Reason)> PublisherDeadLetters() =>
        _cluster.ReadAll(PublisherProcess.DeadLetters)
            .Select(r => (MessageIdOf(r.Entry.Message!.Value!), Header(r.Entry.Message, HeaderNames.DeadLetterReason)))
            .ToList();

    /// <summary>A publisher dead letter holds the track JSON, or the sink record itself when it could not be read.</summary>
    private static string MessageIdOf(byte[] value) =>
        value is [(byte)'{', ..]
            ? JsonDocument.Parse(value).RootElement.GetProperty("messageId").GetString()!
            : SinkRecords.Read(value).MessageId;

    /// <summary>What Segment got: each committed sink record stored (in each person's order) unless Segment refuses it, then dead-lettered for that reason only.</summary>
    private void CheckDelivery()
    {
        if (!PublishersDrained())
        {
            Violations.Add("the publishers did not drain the sink topic once the faults stopped: " + DrainState());
            return;
        }

        if (_segment.Malformed.Count > 0)
        {
            Violations.Add($"Segment got {_segment.Malformed.Count} malformed request(s): {_segment.Malformed[0]}");
        }

        var dead = PublisherDeadLetters().GroupBy(d => d.MessageId).ToDictionary(g => g.Key, g => g.Select(d => d.Reason).ToList());
        var first = _segment.FirstStored.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i);
        foreach (var tp in _cluster.PartitionsOf(TransformerProcess.Sink))
        {
            var lastByPerson = new Dictionary<string, (string Id, int Order)>();
            foreach (var entry in _cluster.CommittedEntries(tp))
            {
                var record = SinkRecords.Read(entry.Message!.Value!);
                var id = record.MessageId;
                var reasons = dead.GetValueOrDefault(id) ?? [];
                if (_segment.Refused.Contains(id))
                {
                    if (first.ContainsKey(id) || reasons.Count == 0 || reasons.Any(r => r != DeadLetterReasons.SegmentRejected))
                    {
                        Violations.Add($"{id}: Segment refuses it, stored {(first.ContainsKey(id) ? "yes" : "no")}, dead letters [{string.Join(",", reasons)}]; expected dead-lettered as {DeadLetterReasons.SegmentRejected}");
                    }

                    continue;
                }

                if (!first.TryGetValue(id, out var order) || reasons.Count > 0)
                {
                    Violations.Add($"{id}: stored by Segment {_segment.Stored.GetValueOrDefault(id)} time(s), dead letters [{string.Join(",", reasons)}]; expected stored, never dead-lettered");
                    continue;
                }

                if (lastByPerson.TryGetValue(record.PersonKey, out var last) && last.Order > order)
                {
                    Violations.Add($"person {record.PersonKey}: {id} (offset {entry.Offset}) reached Segment before {last.Id}, which comes before it");
                }

                lastByPerson[record.PersonKey] = (id, order);
            }
        }

        foreach (var (pod, process) in _publishers.Select((p, i) => (i, p!)))
        {
            if (process.Consumer.Paused.Count > 0 || process.HeldConsumer.Paused.Count > 0)
            {
                Violations.Add($"publisher-{pod}: partitions [{string.Join(",", process.Consumer.Paused.Concat(process.HeldConsumer.Paused))}] left paused with nothing buffered");
            }
        }
    }

    private void IngestBurst()
    {
        var burst = new List<(string Body, string Key)>();
        for (var i = 0; i < 1 + _random.Next(8); i++)
        {
            if (_sent.Count > 0 && _random.NextDouble() < 0.2)
            {
                burst.Add(_sent[_random.Next(_sent.Count)]);   // Customer.io's retry: the same webhook again
                continue;
            }

            var eventId = $"s{Seed}-e{_sent.Count}";
            var person = "person-" + _random.Next(6);
            if (_random.NextDouble() < 0.1)
            {
                var body = $"{{\"event_id\":\"{eventId}\",\"object_type\":\"email\",\"metric\":\"opened\",\"timestamp\":1700000000,\"data\":{{\"delivery_id\":\"d\"}}}}";
                burst.Add((body, eventId));
                _expected[eventId] = "dlq:" + DeadLetterReasons.NoPersonIdentifier;
            }
            else
            {
                burst.Add(TransformerProcess.Webhook(eventId, person));
                _expected[eventId] = "sink";
                if (_random.NextDouble() < 0.05)
                {
                    _segment.Refused.Add("cio-" + eventId);   // an event Segment will refuse
                }
            }

            _sent.Add(burst[^1]);
        }

        TransformerProcess.Ingest(_cluster, [.. burst]);
    }

    private void Start(int pod)
    {
        if (_pods[pod] is not null)
        {
            return;
        }

        try
        {
            var options = TransformerProcess.DefaultOptions(commitEvery: 1 + _random.Next(5));
            // Long enough that a restore's budget never cuts it short on the double: the schedule depends only on the seed.
            options.KafkaTimeout = TimeSpan.FromSeconds(5);
            _pods[pod] = new TransformerProcess(_cluster, options, "pod-" + pod);
        }
        catch (KafkaException e) when (e is KafkaRetriableException || e.Error.IsFatal)
        {
            // InitTransactions failed: the process exits at start and is restarted later.
        }
    }

    private void Crash(int pod)
    {
        if (_pods[pod] is { } process)
        {
            process.Consumer.Dispose();
            _pods[pod] = null;
            Counts.Crashes++;
        }
    }

    private void Step(int pod, bool commit)
    {
        if (_pods[pod] is not { } process)
        {
            return;
        }

        try
        {
            if (commit)
            {
                process.Loop.Commit();
                Counts.Commits++;
                CheckStateEqualsChangelog(pod, process);
            }
            else
            {
                process.Loop.RunOnce(TimeSpan.Zero);
            }
        }
        catch (KafkaException e) when (e.Error.IsFatal)
        {
            // Designed exit: the process stops and is restarted.
            process.Consumer.Dispose();
            _pods[pod] = null;
            Counts.FatalExits++;
        }
        catch (Exception e)
        {
            Violations.Add($"pod-{pod}: {e.GetType().Name} left the loop: {e.Message}");
        }
    }

    private void CheckStateEqualsChangelog(int pod, TransformerProcess process)
    {
        if (process.Loop.Uncommitted != 0 || process.Consumer.IsExpelled || process.Loop.RestoringPartitions.Count > 0)
        {
            return;
        }

        var owned = process.Consumer.Assignment.Select(tp => tp.Partition.Value).ToHashSet();
        var held = process.Loop.State.Partitions.ToHashSet();
        if (!held.SetEquals(owned))
        {
            Violations.Add($"pod-{pod}: dedup state for partitions [{string.Join(",", held.Order())}] but owns [{string.Join(",", owned.Order())}]");
            return;
        }

        var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var expected = 0L;
        foreach (var partition in owned)
        {
            var keys = new Dictionary<DedupKey, long?>();
            var tp = new TopicPartition(TransformerProcess.Changelog, partition);
            foreach (var entry in _cluster.CommittedEntries(tp))
            {
                if (DedupKey.TryRead(entry.Message!.Key, out var key))
                {
                    keys[key] = entry.Message.Value is { Length: 8 } v ? System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(v) : null;
                }
            }

            foreach (var (key, expires) in keys)
            {
                if (expires is { } e && e > nowMs)
                {
                    expected++;
                    if (!process.Loop.State.Contains(partition, key, nowMs))
                    {
                        Violations.Add($"pod-{pod}: a key committed in changelog partition {partition} is not in its dedup state");
                        return;
                    }
                }
            }
        }

        if (process.Loop.State.Count != expected)
        {
            Violations.Add($"pod-{pod}: {process.Loop.State.Count} dedup keys in memory, {expected} in the committed changelog of partitions [{string.Join(",", owned.Order())}]");
        }
    }

    private bool Drained()
    {
        if (_pods.Any(p => p is null || p.Loop.Uncommitted > 0))
        {
            return false;
        }

        foreach (var tp in _cluster.PartitionsOf(TransformerProcess.Raw))
        {
            var committed = _cluster.Committed(TransformerProcess.DefaultOptions().GroupId, tp);
            if (_cluster.ReadNext(tp, Math.Max(0, committed.Value), IsolationLevel.ReadCommitted, out _) is not null)
            {
                return false;
            }
        }

        return true;
    }

    private void CheckOutcome()
    {
        if (!Drained())
        {
            Violations.Add("the pods did not drain the raw topic once the faults stopped");
            return;
        }

        var sink = TransformerProcess.CommittedMessageIds(_cluster).GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
        var dlq = _cluster.ReadAll(TransformerProcess.Dlq)
            .Select(r => (EventId: EventIdOf(r.Entry.Message!.Value), Reason: Header(r.Entry.Message, HeaderNames.DeadLetterReason)))
            .GroupBy(d => d.EventId)
            .ToDictionary(g => g.Key, g => g.ToList());
        foreach (var (eventId, expected) in _expected)
        {
            var inSink = sink.GetValueOrDefault("cio-" + eventId);
            var letters = dlq.GetValueOrDefault(eventId) ?? [];
            if (expected == "sink" && (inSink != 1 || letters.Count != 0))
            {
                Violations.Add($"{eventId}: {inSink} time(s) in the sink and {letters.Count} dead letter(s), expected once in the sink");
            }
            else if (expected != "sink" && (inSink != 0 || letters.Count != 1 || "dlq:" + letters[0].Reason != expected))
            {
                Violations.Add($"{eventId}: {inSink} time(s) in the sink and dead letters [{string.Join(",", letters.Select(l => l.Reason))}], expected one {expected}");
            }
        }

        foreach (var id in sink.Keys.Where(id => !_expected.ContainsKey(id["cio-".Length..])))
        {
            Violations.Add($"{id}: in the sink but never sent");
        }

        CheckOutcomeRecords();
    }

    /// <summary>
    /// Every raw webhook has exactly one committed transform outcome: the first receipt of an event_id its sink
    /// record or dead letter (checked above), every later receipt (Customer.io's retry) one record on the outcomes
    /// topic naming it, as deduplicated.
    /// </summary>
    private void CheckOutcomeRecords()
    {
        var receipts = _cluster.ReadAll(TransformerProcess.Raw)
            .ToDictionary(r => (r.Partition.Partition.Value, r.Entry.Offset), r => EventIdOf(r.Entry.Message!.Value));
        var named = new Dictionary<(int, long), int>();
        foreach (var (_, entry) in _cluster.ReadAll(TransformerProcess.Outcomes))
        {
            var json = System.Text.Json.Nodes.JsonNode.Parse(entry.Message!.Value!)!;
            var at = ((int)json["partition"]!, (long)json["offset"]!);
            named[at] = named.GetValueOrDefault(at) + 1;
            if ((string?)json["outcome"] != "deduplicated" || (string?)json["reason"] != "event_id" || !receipts.ContainsKey(at))
            {
                Violations.Add($"outcome record {json.ToJsonString()}: expected a deduplicated receipt of a raw webhook");
            }
        }

        foreach (var (at, count) in named.Where(n => n.Value > 1))
        {
            Violations.Add($"raw record {at}: {count} outcome records, expected at most one");
        }

        foreach (var receiptsOfEvent in receipts.GroupBy(r => r.Value))
        {
            var dropped = receiptsOfEvent.Count(r => named.ContainsKey(r.Key));
            if (dropped != receiptsOfEvent.Count() - 1)
            {
                Violations.Add($"{receiptsOfEvent.Key}: {receiptsOfEvent.Count()} receipts, {dropped} recorded as deduplicated; expected all but the first");
            }
        }
    }

    private static string EventIdOf(byte[]? body) =>
        System.Text.Json.Nodes.JsonNode.Parse(body ?? [])?["event_id"]?.GetValue<string>() ?? "";

    private static string Header(Message<byte[]?, byte[]?> message, string name) =>
        message.Headers.TryGetLastBytes(name, out var value) ? Encoding.UTF8.GetString(value) : "";
}

/// <summary>What many schedules did, in total: violations by seed, faults injected (Kafka, Schema Registry, Segment), crashes, exits, expulsions, commits.</summary>
internal sealed class SimulationSummary
{
    public List<(int Seed, string Violation)> Violations { get; } = [];

    public SortedDictionary<string, int> Injected { get; } = new(StringComparer.Ordinal);

    public int Schedules { get; private set; }

    public SimulationCounts Totals { get; } = new();

    /// <summary>Runs one schedule per seed, <paramref name="steps"/> random steps each.</summary>
    public static SimulationSummary Run(IEnumerable<int> seeds, int steps = 300)
    {
        var summary = new SimulationSummary();
        foreach (var seed in seeds)
        {
            var run = new PipelineSimulation(seed).Run(steps);
            summary.Injected["Registry/Down"] = summary.Injected.GetValueOrDefault("Registry/Down") + run.RegistryFailures;
            foreach (var (fault, n) in run.SegmentInjected)
            {
                summary.Injected[$"Segment/{fault}"] = summary.Injected.GetValueOrDefault($"Segment/{fault}") + n;
            }

            summary.Schedules++;
            summary.Violations.AddRange(run.Violations.Select(v => (seed, v)));
            foreach (var ((point, kind), n) in run.Injected)
            {
                summary.Injected[$"{point}/{kind}"] = summary.Injected.GetValueOrDefault($"{point}/{kind}") + n;
            }

            summary.Totals.Add(run.Counts);
        }

        return summary;
    }
}

/// <summary>How often one schedule, or many added up, committed, crashed, exited, was expelled and asked Segment.</summary>
internal sealed class SimulationCounts
{
    public long Commits { get; set; }

    public long Crashes { get; set; }

    public long FatalExits { get; set; }

    public long Expulsions { get; set; }

    public long SegmentRequests { get; set; }

    public long PublisherCrashes { get; set; }

    public long PublisherExits { get; set; }

    public long PublisherExpulsions { get; set; }

    /// <summary>Events parked in the held topic.</summary>
    public long Parked { get; set; }

    public void Add(SimulationCounts other)
    {
        Commits += other.Commits;
        Crashes += other.Crashes;
        FatalExits += other.FatalExits;
        Expulsions += other.Expulsions;
        SegmentRequests += other.SegmentRequests;
        PublisherCrashes += other.PublisherCrashes;
        PublisherExits += other.PublisherExits;
        PublisherExpulsions += other.PublisherExpulsions;
        Parked += other.Parked;
    }

    public override string ToString() =>
        $"{Commits} commit calls, {Crashes} crashes, {FatalExits} fatal exits, {Expulsions} expulsions; "
        + $"publishers: {SegmentRequests} Segment requests, {PublisherCrashes} crashes, {PublisherExits} fatal exits, {PublisherExpulsions} expulsions, {Parked} events parked in the held topic";
}
