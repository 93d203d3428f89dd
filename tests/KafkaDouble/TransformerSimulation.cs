using System.Text;
using CioSegment.Contracts;
using CioSegment.Processor.Transform;
using Confluent.Kafka;

namespace CioSegment.KafkaDouble;

/// <summary>
/// One seeded schedule of the production transformer (loop, transformer, dedup store) over the Kafka
/// double: two pods with their own transactional.id, webhooks arriving in bursts (retries among them, and
/// some that cannot be mapped), random steps of processing, commits, crashes (all in-memory state dropped),
/// restarts, expulsions from the group (lost partitions) and injected Kafka faults; then the faults stop and
/// the pods drain. The same seed always runs the same schedule.
/// <para>Invariants, checked as it runs and at the end:</para>
/// <list type="bullet">
/// <item>every webhook appears exactly once in the committed sink output, or once in the dead-letter topic
/// with the reason its shape gets (never because of a fault);</item>
/// <item>after every commit, a pod's in-memory dedup state equals the committed changelog of its partitions;</item>
/// <item>no exception leaves a loop but a fatal Kafka error (on which the process exits, to be restarted);</item>
/// <item>at the end the group's committed offsets cover the raw topic and no transaction is left open.</item>
/// </list>
/// </summary>
internal sealed class TransformerSimulation(int seed)
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
    };

    private readonly Random _random = new(seed);
    private readonly TransformerProcess?[] _pods = new TransformerProcess?[2];
    private readonly Dictionary<string, string> _expected = [];
    private readonly List<(string Body, string Key)> _sent = [];
    private KafkaCluster _cluster = null!;

    public int Seed { get; } = seed;

    public List<string> Violations { get; } = [];

    public int Crashes { get; private set; }

    public int FatalExits { get; private set; }

    public int Expulsions { get; private set; }

    public int Commits { get; private set; }

    public IReadOnlyDictionary<(FaultPoint Point, FaultKind Kind), int> Injected => _cluster.Faults.InjectedAll();

    public TransformerSimulation Run(int steps = 300)
    {
        _cluster = TransformerProcess.Cluster(partitions: 1 + _random.Next(3));
        _cluster.Faults.Random = point => FaultsAt.TryGetValue(point, out var kinds) && _random.NextDouble() < FaultRate
            ? kinds[_random.Next(kinds.Length)]
            : FaultKind.None;
        Start(0);

        for (var step = 0; step < steps && Violations.Count == 0; step++)
        {
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
                Expulsions++;
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
        IngestBurst();
        for (var pod = 0; pod < _pods.Length; pod++)
        {
            Start(pod);
        }

        for (var round = 0; round < 2000 && Violations.Count == 0 && !Drained(); round++)
        {
            for (var pod = 0; pod < _pods.Length; pod++)
            {
                Start(pod);
                Step(pod, commit: round % 4 == 3);
            }
        }

        if (Violations.Count == 0)
        {
            CheckOutcome();
        }

        return this;
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
            Crashes++;
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
                Commits++;
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
            FatalExits++;
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
    }

    private static string EventIdOf(byte[]? body) =>
        System.Text.Json.Nodes.JsonNode.Parse(body ?? [])?["event_id"]?.GetValue<string>() ?? "";

    private static string Header(Message<byte[]?, byte[]?> message, string name) =>
        message.Headers.TryGetLastBytes(name, out var value) ? Encoding.UTF8.GetString(value) : "";
}

/// <summary>What many schedules did, in total: violations by seed, faults injected, crashes, exits, expulsions, commits.</summary>
internal sealed class SimulationSummary
{
    public List<(int Seed, string Violation)> Violations { get; } = [];

    public SortedDictionary<string, int> Injected { get; } = new(StringComparer.Ordinal);

    public int Schedules { get; private set; }

    public long Crashes { get; private set; }

    public long FatalExits { get; private set; }

    public long Expulsions { get; private set; }

    public long Commits { get; private set; }

    /// <summary>Runs one schedule per seed, <paramref name="steps"/> random steps each.</summary>
    public static SimulationSummary Run(IEnumerable<int> seeds, int steps = 300)
    {
        var summary = new SimulationSummary();
        foreach (var seed in seeds)
        {
            var run = new TransformerSimulation(seed).Run(steps);
            summary.Schedules++;
            summary.Violations.AddRange(run.Violations.Select(v => (seed, v)));
            foreach (var ((point, kind), n) in run.Injected)
            {
                summary.Injected[$"{point}/{kind}"] = summary.Injected.GetValueOrDefault($"{point}/{kind}") + n;
            }

            summary.Crashes += run.Crashes;
            summary.FatalExits += run.FatalExits;
            summary.Expulsions += run.Expulsions;
            summary.Commits += run.Commits;
        }

        return summary;
    }
}
