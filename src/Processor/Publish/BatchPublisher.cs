using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using CioSegment.Contracts;
using CioSegment.Mapping.Settings;
using CioSegment.ServiceDefaults;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace CioSegment.Processor.Publish;

/// <summary>
/// Drains the sink topic into Segment's <c>/v1/batch</c>, on the consumer's own thread.
/// <list type="bullet">
/// <item>Events are batched per source (one write key per request) and, within a source, per lane: a lane
/// is a hash of the person key, has at most one request in flight and sends its batches in order, so each
/// person's events reach Segment in order while a source still has several requests in flight.</item>
/// <item>A batch closes at <see cref="PublisherOptions.MaxBatchBytes"/> (request body),
/// <see cref="PublisherOptions.MaxBatchEvents"/> or <see cref="PublisherOptions.Linger"/>.</item>
/// <item>Retriable answers are retried with capped, jittered exponential backoff honouring Retry-After,
/// for as long as it takes (Polly); meanwhile the consumer keeps polling, and pauses its partitions when
/// <see cref="PublisherOptions.MaxBufferedEvents"/> are held, so memory stays bounded.</item>
/// <item>A rejected batch is split in halves until the bad events are isolated; they go to the
/// dead-letter topic with Segment's answer, the rest is delivered.</item>
/// <item>Offsets are committed only up to the longest prefix of each partition whose events are all
/// delivered or dead-lettered.</item>
/// </list>
/// </summary>
public sealed class BatchPublisher : IDisposable
{
    public const string Stage = "publish";

    private readonly IConsumer<byte[]?, SegmentTrackRecordView> _consumer;
    private readonly IProducer<byte[]?, byte[]?> _deadLetters;
    private readonly SegmentBatchClient _client;
    private readonly SourceCatalog _sources;
    private readonly PublisherOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<(string Source, int Lane, bool Held), Lane> _lanes = [];
    private readonly Dictionary<string, SourceDelivery> _deliveries = [];
    private readonly HeldEvents? _held;
    private readonly DeliveryLog? _deliveryLog;
    private readonly HashSet<TopicPartition> _heldPaused = [];
    private int _heldBuffered;
    private long _heldBufferedBytes;
    private readonly Dictionary<string, RateBudget> _rates = [];
    private readonly Func<string, int?>? _partitionCount;
    private int? _sinkPartitions;
    private long _sinkPartitionsAt;
    private readonly ConcurrentQueue<Completion> _completions = new();
    private readonly PartitionProgress _progress = new();
    private readonly TimeProvider _time;
    private readonly Func<Func<Task>, Task> _start;
    private long _lastCommit;
    private readonly ResiliencePipeline<BatchResponse> _retry;
    private readonly PublisherMetrics _metrics;
    private readonly CancellationTokenSource _abandon = new();
    private readonly List<Task> _inFlight = [];
    private readonly Dictionary<TopicPartition, long> _registryWait = [];
    private TimeSpan _registryBackoff;
    private int _buffered;
    private long _bufferedBytes;
    private readonly HashSet<TopicPartition> _backpressurePaused = [];
    private bool _paused;
    private KafkaException? _fatal;
    private readonly PublisherHealth _health;
    private readonly TimeSpan _hungAfter;
    private long _lastHealth;

    public BatchPublisher(
        IConsumer<byte[]?, SegmentTrackRecordView> consumer,
        IProducer<byte[]?, byte[]?> deadLetters,
        SegmentBatchClient client,
        SourceCatalog sources,
        PublisherOptions options,
        Meter meter,
        ILogger logger,
        TimeProvider? time = null,
        Func<double>? jitter = null,
        Func<Func<Task>, Task>? start = null,
        PublisherHealth? health = null,
        HeldEvents? held = null,
        Func<string, int?>? partitionCount = null,
        DeliveryLog? deliveries = null)
    {
        _deliveryLog = deliveries;
        _held = held;
        _partitionCount = partitionCount;
        _consumer = consumer;
        _time = time ?? TimeProvider.System;
        _start = start ?? Task.Run;
        _lastCommit = _time.GetTimestamp();
        _health = health ?? new PublisherHealth(_time);
        _hungAfter = 2 * (options.RequestTimeout + options.RetryMaxDelay) + TimeSpan.FromSeconds(30);
        _deadLetters = deadLetters;
        _client = client;
        _sources = sources;
        _options = options;
        _logger = logger;
        _registryBackoff = options.RetryBaseDelay;
        _metrics = new PublisherMetrics(meter);
        meter.CreateObservableGauge("cio.publisher.buffered", () => Volatile.Read(ref _buffered), "{event}", "Events held in memory (batching, waiting or in flight).");
        meter.CreateObservableGauge("cio.publisher.stalled", () => _health.Last?.Stalled.TotalSeconds ?? 0, "s", "Longest time a lane holding events has gone without delivering or dead-lettering any (0 when every lane delivers).");
        meter.CreateObservableGauge("cio.publisher.lanes_hung", () => _health.Last?.Hung ?? 0, "{lane}", "Lanes with a request in flight and no attempt for longer than any retry waits (the liveness check fails).");
        meter.CreateObservableGauge("cio.publisher.buffered_bytes", () => Interlocked.Read(ref _bufferedBytes), "By", "Bytes of track JSON held in memory (batching, waiting or in flight).");
        meter.CreateObservableGauge("cio.publisher.source.holding", ObserveHolding, "{source}", "1 while a source's events are parked in the held topic (Segment has refused its requests for HoldAfter, or it is over its memory budget), by source.");
        meter.CreateObservableGauge("cio.publisher.source.buffered_bytes", ObserveSourceBytes, "By", "Bytes of track JSON a source holds in memory on the sink path, by source.");
        meter.CreateObservableGauge("cio.publisher.source.rate_budget", ObserveBudget, "{request}", "Requests per second: a source's share of MaxRequestsPerSecondPerSource on this publisher (its share of the sink partitions), by source.");
        meter.CreateObservableGauge("cio.publisher.source.rate", ObserveRate, "{request}", "Requests per second a source may send now on this publisher: the budget, lowered after a 429 until it climbs back, by source.");
        meter.CreateObservableGauge("cio.publisher.held", ObserveHeld, "{event}", "Events of a source in the held topic not yet delivered (of the partitions this publisher owns), by source.");
        _retry = new ResiliencePipelineBuilder<BatchResponse> { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions<BatchResponse>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Result is { Verdict: BatchVerdict.Retry }),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Randomizer = jitter ?? Random.Shared.NextDouble,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.RetryMaxDelay,
                // Retry-After is honoured up to RetryMaxDelay and at most 300 s as Segment's own client does (Polly
                // does not cap what a generator returns): an answer asking for an hour must not hold a lane for an hour.
                DelayGenerator = args => ValueTask.FromResult(args.Outcome.Result.RetryAfter is { } after && after > TimeSpan.Zero ? (TimeSpan?)RetryAfterDelay(after, options) : null),
                OnRetry = args =>
                {
                    _metrics.Retries.Add(1);
                    _logger.LogWarning("Segment answered {Status} ({Detail}); retry {Attempt} in {Delay}.", args.Outcome.Result.Status, args.Outcome.Result.Detail, args.AttemptNumber + 1, args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>How long a Retry-After makes a lane wait: as asked, but at most <see cref="PublisherOptions.RetryMaxDelay"/> and <see cref="SegmentBatchClient.MaxRetryAfter"/>.</summary>
    public static TimeSpan RetryAfterDelay(TimeSpan retryAfter, PublisherOptions options) =>
        TimeSpan.FromTicks(Math.Min(retryAfter.Ticks, Math.Min(options.RetryMaxDelay.Ticks, SegmentBatchClient.MaxRetryAfter.Ticks)));

    /// <summary>Events held in memory.</summary>
    public int Buffered => Volatile.Read(ref _buffered);

    /// <summary>Bytes of track JSON held in memory.</summary>
    public long BufferedBytes => Interlocked.Read(ref _bufferedBytes);

    public void Run(CancellationToken stop, TimeSpan shutdownGrace)
    {
        while (!stop.IsCancellationRequested)
        {
            RunOnce(TimeSpan.FromMilliseconds(50));
        }

        Shutdown(shutdownGrace > TimeSpan.FromSeconds(1) ? shutdownGrace : TimeSpan.FromSeconds(1));
    }

    public void RunOnce(TimeSpan pollTimeout)
    {
        if (_fatal is { } fatal)
        {
            throw new KafkaException(fatal.Error, fatal);
        }

        ResumeAfterRegistryWait();

        // Paused partitions return nothing, but polling keeps the consumer in its group.
        if (Consume(_consumer, pollTimeout, held: false, out _) is { } record)
        {
            _registryBackoff = _options.RetryBaseDelay;
            Accept(record, held: false);
        }

        ConsumeHeld();
        Settle();
        UpdateSources();
        Dispatch(force: false);
        Backpressure();
        if (_time.GetElapsedTime(_lastCommit) >= _options.CommitInterval)
        {
            CommitSettled();
        }

        if (_time.GetElapsedTime(_lastHealth) >= TimeSpan.FromSeconds(1))
        {
            ReportHealth();
            UpdateShare();
            AssignHeld();
            _held?.CheckCatchUp();
        }
    }

    /// <summary>Reads what the held topic has for the sources that can take it, into the held lanes.</summary>
    private void ConsumeHeld()
    {
        if (_held is null)
        {
            return;
        }

        for (var i = 0; i < 500; i++)
        {
            if (Consume(_held.Consumer, TimeSpan.Zero, held: true, out var unreadable) is { } record)
            {
                Accept(record, held: true);
            }
            else if (!unreadable)
            {
                return;
            }
        }
    }

    /// <summary>
    /// One record of the sink topic or, with <paramref name="held"/>, of the held topic. A record the Schema
    /// Registry could not decode because it did not answer is a temporary fault, not a bad record: it is read
    /// again after a pause, and nothing past it is committed meanwhile (it was never counted as consumed). A
    /// record that cannot be read at all is never lost silently: the consumer has moved past it, so it is
    /// dead-lettered with the reason (<paramref name="unreadable"/>).
    /// </summary>
    private ConsumeResult<byte[]?, SegmentTrackRecordView>? Consume(IConsumer<byte[]?, SegmentTrackRecordView> consumer, TimeSpan timeout, bool held, out bool unreadable)
    {
        unreadable = false;
        try
        {
            return consumer.Consume(timeout) is { IsPartitionEOF: false, Message: not null } record ? record : null;
        }
        catch (ConsumeException e) when (e.Error.Code is ErrorCode.Local_ValueDeserialization && IsRegistryUnavailable(e.InnerException))
        {
            var tp = e.ConsumerRecord.TopicPartition;
            consumer.Seek(e.ConsumerRecord.TopicPartitionOffset);
            consumer.Pause([tp]);
            _registryWait[tp] = TimestampAfter(_registryBackoff);
            _metrics.RegistryErrors.Add(1);
            _logger.LogWarning(e.InnerException, "The Schema Registry did not answer for a record of {Partition} at offset {Offset}; reading it again in {Delay}.", tp, e.ConsumerRecord.Offset, _registryBackoff);
            _registryBackoff = TimeSpan.FromTicks(Math.Min(_registryBackoff.Ticks * 2, _options.RetryMaxDelay.Ticks));
        }
        catch (ConsumeException e) when (e.Error.Code is ErrorCode.Local_ValueDeserialization or ErrorCode.Local_KeyDeserialization)
        {
            var raw = e.ConsumerRecord;
            var origin = raw.TopicPartitionOffset;
            if (held)
            {
                _held!.Unreadable(origin);
            }
            else
            {
                _progress.Consumed(origin);
            }

            var pending = new PendingEvent(origin, "", "", raw.Message.Key, raw.Message.Value ?? [], raw.Message.Headers ?? []);
            Hold(pending);
            DeadLetter([pending], DeadLetterReasons.InvalidSinkRecord, e.Error.Reason, lane: null);
            unreadable = true;
        }

        return null;
    }

    /// <summary>Moves each source between delivering and holding (<see cref="SourceDelivery"/>), and logs it.</summary>
    private void UpdateSources()
    {
        if (_held is null)
        {
            return;
        }

        foreach (var delivery in _deliveries.Values)
        {
            switch (delivery.Update(_options.HoldAfter, _options.MaxBufferedBytesPerSource))
            {
                case SourceMode.Holding:
                    _logger.LogWarning(
                        "Source {Source}: Segment has refused its requests for {HoldAfter} or it holds {Bytes} bytes; its events are parked in {Topic} and delivered from there once Segment takes them again. Other sources are not affected.",
                        delivery.Source, _options.HoldAfter, delivery.BufferedBytes, _held.Topic);
                    break;
                case SourceMode.Delivering:
                    _logger.LogInformation("Source {Source}: Segment takes its requests again; its held events are delivered first, then it is sent from {Topic} again.", delivery.Source, _options.InputTopic);
                    break;
            }
        }
    }

    private SourceDelivery Delivery(string source)
    {
        if (!_deliveries.TryGetValue(source, out var delivery))
        {
            delivery = new SourceDelivery(source, _time);
            _deliveries[source] = delivery;
        }

        return delivery;
    }

    private volatile IReadOnlyList<(string Source, bool Holding, long Bytes, int Held, double Ceiling, double Rate)> _sourceSnapshot = [];

    private IEnumerable<Measurement<int>> ObserveHolding() =>
        _sourceSnapshot.Select(s => new Measurement<int>(s.Holding ? 1 : 0, new KeyValuePair<string, object?>("source", s.Source)));

    private IEnumerable<Measurement<long>> ObserveSourceBytes() =>
        _sourceSnapshot.Select(s => new Measurement<long>(s.Bytes, new KeyValuePair<string, object?>("source", s.Source)));

    private IEnumerable<Measurement<double>> ObserveBudget() =>
        _sourceSnapshot.Select(s => new Measurement<double>(s.Ceiling, new KeyValuePair<string, object?>("source", s.Source)));

    private IEnumerable<Measurement<double>> ObserveRate() =>
        _sourceSnapshot.Select(s => new Measurement<double>(s.Rate, new KeyValuePair<string, object?>("source", s.Source)));

    private IEnumerable<Measurement<int>> ObserveHeld() =>
        _sourceSnapshot.Select(s => new Measurement<int>(s.Held, new KeyValuePair<string, object?>("source", s.Source)));

    /// <summary>The lane that has held events longest without settling any, and hung lanes, for health and metrics.</summary>
    private void ReportHealth()
    {
        var now = _lastHealth = _time.GetTimestamp();
        var stalled = TimeSpan.Zero;
        string? stalledSource = null;
        var hung = 0;
        string? hungSource = null;
        foreach (var lane in _lanes.Values)
        {
            if (!lane.Holding)
            {
                continue;
            }

            var waiting = _time.GetElapsedTime(lane.HoldingSince, now);
            if (waiting > stalled)
            {
                (stalled, stalledSource) = (waiting, lane.Source);
            }

            if (lane.InFlight && _time.GetElapsedTime(Volatile.Read(ref lane.LastAttempt), now) > _hungAfter)
            {
                hung++;
                hungSource = lane.Source;
            }
        }

        _health.Report(stalled, stalledSource, hung, hungSource);
        var held = _held?.OutstandingBySource().ToDictionary(h => h.Source, h => h.Events) ?? [];
        _sourceSnapshot = _deliveries.Values
            .Select(d => (Delivery: d, Budget: Rate(d.Source)))
            .Select(s => (s.Delivery.Source, s.Delivery.Mode == SourceMode.Holding, s.Delivery.BufferedBytes, held.GetValueOrDefault(s.Delivery.Source), s.Budget.Ceiling, s.Budget.Rate))
            .ToList();
    }

    /// <summary>Sink partitions were assigned: the held partitions of the same numbers come with them.</summary>
    public void OnAssigned(IReadOnlyCollection<TopicPartition> partitions)
    {
        try
        {
            _held?.Assign(partitions);
        }
        catch (KafkaException e)
        {
            _logger.LogWarning(e, "Assigning the held partitions of {Partitions} failed ({Code}); trying again every second.", string.Join(", ", partitions), e.Error.Code);
        }
    }

    /// <summary>Held partitions whose assignment failed are assigned again; their sink partitions' events queue behind them meanwhile.</summary>
    private void AssignHeld()
    {
        try
        {
            _held?.AssignPending();
        }
        catch (KafkaException e) when (e.Error.Code is ErrorCode.UnknownTopicOrPart or ErrorCode.Local_UnknownTopic or ErrorCode.Local_UnknownPartition)
        {
            // A held topic that is missing or short of partitions: sources that deliver are not affected; one that
            // starts holding keeps its events in memory (parking fails), never lost. The log says what to create.
            _held!.AbandonPending();
            _logger.LogError(e, "The held topic {Topic} is missing or has fewer partitions than {Sink} ({Code}): create it (as many partitions as {Sink}) so that a source Segment refuses can be parked.", _held.Topic, _options.InputTopic, e.Error.Code, _options.InputTopic);
        }
        catch (KafkaException e)
        {
            // The broker did not answer: the assignment is tried again every second, and the events of those
            // partitions queue behind their held backlog meanwhile.
            _logger.LogWarning(e, "Assigning held partitions failed ({Code}); trying again every second.", e.Error.Code);
        }
    }

    /// <summary>Partitions are being revoked (still ours): commit what is settled, then let go of them.</summary>
    public void OnRevoked(IReadOnlyCollection<TopicPartitionOffset> partitions)
    {
        Settle();
        CommitSettled();
        Release(partitions.Select(p => p.TopicPartition).ToHashSet(), commit: true);
    }

    /// <summary>
    /// Partitions were lost: another member may own them already, so nothing is committed for them (a commit
    /// could move its offsets); what was not sent is dropped, and the new owner reads it again.
    /// </summary>
    public void OnLost(IReadOnlyCollection<TopicPartitionOffset> partitions)
    {
        Settle();
        Release(partitions.Select(p => p.TopicPartition).ToHashSet(), commit: false);
    }

    private void Release(HashSet<TopicPartition> released, bool commit)
    {
        foreach (var tp in released)
        {
            _progress.Forget(tp);
        }

        if (_held is not null)
        {
            try
            {
                _held.Release(released, commit);
            }
            catch (KafkaException e)
            {
                _logger.LogWarning(e, "Committing the held offsets of revoked partitions failed ({Code}); the next owner delivers those held events again.", e.Error.Code);
            }

            // The held partitions of the same numbers go with them.
            foreach (var tp in released.ToList())
            {
                released.Add(new TopicPartition(_held.Topic, tp.Partition));
                _heldPaused.Remove(new TopicPartition(_held.Topic, tp.Partition));
            }
        }

        foreach (var lane in _lanes.Values)
        {
            // Not yet sent: the next owner reads them again from the committed offset.
            var dropped = new List<PendingEvent>();
            Take(lane.Open, released, dropped);
            foreach (var batch in lane.Ready)
            {
                Take(batch, released, dropped);
            }

            if (lane.Retry is { } retry)
            {
                Take(retry, released, dropped);
            }

            lane.OpenBytes = lane.Open.Sum(e => e.TrackJson.Length + 1);
            Unhold(dropped);
        }

        _backpressurePaused.ExceptWith(released);
    }

    private static void Take(List<PendingEvent> from, HashSet<TopicPartition> partitions, List<PendingEvent> into)
    {
        into.AddRange(from.Where(e => partitions.Contains(e.Origin.TopicPartition)));
        from.RemoveAll(e => partitions.Contains(e.Origin.TopicPartition));
    }

    private void Hold(PendingEvent e)
    {
        Interlocked.Increment(ref _buffered);
        Interlocked.Add(ref _bufferedBytes, e.TrackJson.Length);
        if (IsHeld(e))
        {
            _heldBuffered++;
            _heldBufferedBytes += e.TrackJson.Length;
        }
        else if (e.SourceId.Length > 0)
        {
            var delivery = Delivery(e.SourceId);
            delivery.Buffered++;
            delivery.BufferedBytes += e.TrackJson.Length;
        }
    }

    private void Unhold(IReadOnlyCollection<PendingEvent> events)
    {
        Interlocked.Add(ref _buffered, -events.Count);
        Interlocked.Add(ref _bufferedBytes, -events.Sum(e => (long)e.TrackJson.Length));
        foreach (var e in events)
        {
            if (IsHeld(e))
            {
                _heldBuffered--;
                _heldBufferedBytes -= e.TrackJson.Length;
            }
            else if (e.SourceId.Length > 0)
            {
                var delivery = Delivery(e.SourceId);
                delivery.Buffered--;
                delivery.BufferedBytes -= e.TrackJson.Length;
            }
        }
    }

    /// <summary>An event read from the held topic (not from the sink topic).</summary>
    private bool IsHeld(PendingEvent e) => _held is not null && e.Origin.Topic == _held.Topic;

    /// <summary>Sends what is buffered, waits for in-flight requests up to <paramref name="grace"/>, commits what was delivered.</summary>
    public void Shutdown(TimeSpan grace)
    {
        var deadline = Stopwatch.StartNew();
        // Held-path lanes are not waited for: their events stay in the held topic, uncommitted, and the next
        // owner reads them again; a source Segment still refuses would otherwise hold every shutdown for its grace.
        while (deadline.Elapsed < grace && _lanes.Values.Any(l => !l.HeldPath && (l.Open.Count > 0 || l.Ready.Count > 0 || l.Retry is { Count: > 0 } || l.InFlight)))
        {
            Settle();
            Dispatch(force: true);
            Thread.Sleep(10);
        }

        _abandon.Cancel();
        try
        {
            Task.WaitAll([.. _inFlight], TimeSpan.FromSeconds(1));
        }
        catch (AggregateException)
        {
        }

        Settle();
        CommitSettled();
        _consumer.Close();
        _held?.Consumer.Close();
    }

    public void Dispose() => _abandon.Dispose();

    /// <summary>A record of the sink topic or, with <paramref name="held"/>, of the held topic, into its source's lanes (or dead-lettered when no source has its id).</summary>
    private void Accept(ConsumeResult<byte[]?, SegmentTrackRecordView> record, bool held)
    {
        var view = record.Message.Value;
        var pending = new PendingEvent(record.TopicPartitionOffset, view.SourceId, view.MessageId, record.Message.Key, view.TrackJson, record.Message.Headers, view.ReceivedAtMs, view.PersonKey, view.Event);
        MessagingTelemetry.Consumed(record.Topic, held ? _options.HeldGroupId : _options.GroupId);
        if (held)
        {
            _held!.Read(view.SourceId, record.TopicPartitionOffset);
        }
        else
        {
            _progress.Consumed(record.TopicPartitionOffset);
        }

        Hold(pending);
        if (!_sources.TryGetIncludingRemoved(view.SourceId, out _))
        {
            DeadLetter([pending], DeadLetterReasons.UnknownSource, "No source is configured under the record's source id.", lane: null);
            return;
        }

        Enqueue(pending, held);
    }

    /// <summary>
    /// Into the lane of its source and person: sink-path lanes and held-path lanes are apart, so events
    /// read back from the held topic never wait behind (or hold up) the sink path's.
    /// </summary>
    private void Enqueue(PendingEvent pending, bool held)
    {
        var laneIndex = pending.Key is { } key ? (int)(XxHash3.HashToUInt64(key) % (ulong)_options.MaxInFlightPerSource) : 0;
        if (!_lanes.TryGetValue((pending.SourceId, laneIndex, held), out var lane))
        {
            lane = new Lane(pending.SourceId) { HeldPath = held, Delivery = Delivery(pending.SourceId), Budget = Rate(pending.SourceId) };
            _lanes[(pending.SourceId, laneIndex, held)] = lane;
        }

        var size = pending.TrackJson.Length + 1;
        if (lane.Open.Count > 0 && (lane.Open.Count + 1 > _options.MaxBatchEvents || SegmentBatchClient.EnvelopeBytes(0) + lane.OpenBytes + size > _options.MaxBatchBytes))
        {
            lane.Close();
        }

        if (!lane.Holding)
        {
            lane.HoldingSince = _time.GetTimestamp();
        }

        if (lane.Open.Count == 0)
        {
            lane.OpenedAt = _time.GetTimestamp();
        }

        lane.Open.Add(pending);
        lane.OpenBytes += size;
    }

    private void Dispatch(bool force)
    {
        foreach (var lane in _lanes.Values)
        {
            if (lane.Open.Count > 0 && (force || _time.GetElapsedTime(lane.OpenedAt) >= _options.Linger))
            {
                lane.Close();
            }

            // A batch whose sending failed goes first (after its pause), so each person's events keep their order.
            var retry = lane.Retry is { Count: > 0 };
            if (lane.InFlight || (retry ? _time.GetTimestamp() < lane.RetryAfter : lane.Ready.Count == 0))
            {
                continue;
            }

            // A holding source's events, and those of persons with held events, queue in the held topic (no request).
            var next = retry ? lane.Retry! : lane.Ready.Peek();
            var park = _held is not null && !lane.HeldPath
                && (Delivery(lane.Source).Mode == SourceMode.Holding || next.Any(e => _held.MustPark(e.SourceId, e.Origin.Partition.Value)));

            List<PendingEvent> batch;
            if (retry)
            {
                batch = lane.Retry!;
                lane.Retry = null;
            }
            else
            {
                batch = lane.Ready.Dequeue();
            }

            if (batch.Count == 0)
            {
                continue;
            }

            lane.InFlight = true;
            lane.Requests = lane.Delivery?.Requests ?? CancellationToken.None;
            Volatile.Write(ref lane.LastAttempt, _time.GetTimestamp());
            _inFlight.RemoveAll(t => t.IsCompleted);
            _inFlight.Add(park ? _start(() => ParkAsync(lane, batch)) : _start(() => SendAsync(lane, batch)));
        }
    }

    /// <summary>Writes a lane's batch to the held topic, in order; what the broker acknowledged is settled for the sink topic.</summary>
    private async Task ParkAsync(Lane lane, List<PendingEvent> batch)
    {
        var parked = new List<PendingEvent>();
        var pause = false;
        try
        {
            parked = await _held!.ParkAsync(batch, _abandon.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Shutdown: what was not acknowledged is read again from the sink topic.
        }
        catch (ProduceException<byte[]?, byte[]?> e) when (e.Error.IsFatal)
        {
            _fatal ??= new KafkaException(e.Error, e);
        }
        catch (Exception e)
        {
            // The broker or the registry did not take it (or something nobody planned for): never a dead letter,
            // never dropped; the rest is parked again after a pause.
            pause = true;
            _logger.LogWarning(e, "Parking {Count} events of source {Source} in {Topic} failed ({Error}); trying again after a pause.", batch.Count - parked.Count, lane.Source, _held!.Topic, e.GetType().Name);
        }
        finally
        {
            var rest = pause ? batch.Skip(parked.Count).ToList() : [];
            _completions.Enqueue(new Completion(lane, parked, rest, pause ? CompletionKind.Failed : CompletionKind.Done, Parked: true));
        }
    }

    private async Task SendAsync(Lane lane, List<PendingEvent> batch)
    {
        var settled = new List<PendingEvent>(batch.Count);
        var started = _time.GetTimestamp();
        string? error = null;
        using var activity = MessagingTelemetry.StartBatchProcess(ProcessorTelemetry.ActivitySource, _options.InputTopic, _options.GroupId, batch.Select(e => (Headers?)e.Headers), batch.Count);
        activity?.SetTag("cio.source_id", lane.Source);
        try
        {
            if (!_sources.TryGetIncludingRemoved(lane.Source, out var source))
            {
                // The source was removed (and its grace ran out) while these events waited: settle them as
                // unknown_source, replayable once it is configured again, so its partitions' commits go on.
                foreach (var e in batch)
                {
                    await DeadLetterAsync(e, DeadLetterReasons.UnknownSource, "The source was removed from the configuration while its events waited; configure it and replay the dead letter.", lane).ConfigureAwait(false);
                    settled.Add(e);
                }

                return;
            }

            await SendSplittingAsync(lane, source, batch, settled).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abandon.IsCancellationRequested)
        {
            // Abandoned at shutdown: the unsettled events are not committed and will be sent again.
            error = "abandoned";
        }
        catch (OperationCanceledException)
        {
            // The source started holding: the rest of the batch is parked, first in its lane.
            error = "held";
        }
        catch (Exception e)
        {
            error = e.GetType().Name;
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            _metrics.SendFailures.Add(1, new KeyValuePair<string, object?>("error.type", error));
            _logger.LogError(e, "Publishing a batch of {Count} events for source {Source} failed unexpectedly; the {Unsent} not yet delivered are sent again after a pause.", batch.Count, lane.Source, batch.Count - settled.Count);
        }
        finally
        {
            MessagingTelemetry.Processed(_options.InputTopic, _options.GroupId, _time.GetElapsedTime(started), error);

            // An unexpected failure must neither lose the rest of the batch nor freeze its partitions' commits.
            var unsent = error is null or "abandoned" ? [] : batch.Except(settled).ToList();
            _completions.Enqueue(new Completion(lane, settled, unsent, error == "held" ? CompletionKind.Held : unsent.Count > 0 ? CompletionKind.Failed : CompletionKind.Done, Parked: false));
        }
    }

    private async Task SendSplittingAsync(Lane lane, SourceSettings source, List<PendingEvent> batch, List<PendingEvent> settled)
    {
        // A sink-path request stops retrying when its source starts holding; a held-path one retries until shutdown.
        var delivery = lane.Delivery!;
        using var requests = lane.HeldPath || _held is null
            ? CancellationTokenSource.CreateLinkedTokenSource(_abandon.Token)
            : CancellationTokenSource.CreateLinkedTokenSource(_abandon.Token, lane.Requests);
        // Each attempt of this batch tells Segment how many came before it (X-Retry-Count); split halves are new batches.
        var retry = 0;
        var response = await _retry.ExecuteAsync(
            async token =>
            {
                // Every attempt takes a slot of the source's budget: first tries, retries and split halves alike.
                await lane.Budget!.WaitAsync(token).ConfigureAwait(false);
                Volatile.Write(ref lane.LastAttempt, _time.GetTimestamp());
                var answer = await _client.SendAsync(source, batch, retry++, _options.RequestTimeout, token).ConfigureAwait(false);
                delivery.Answered(wholeRequestFailure: answer.Verdict == BatchVerdict.Retry);
                _deliveryLog?.Record(lane.Source, batch, answer.Status, retry - 1, lane.HeldPath, _time.GetUtcNow());
                if (answer.Status == 429)
                {
                    lane.Budget.Throttled();
                }

                return answer;
            },
            requests.Token).ConfigureAwait(false);
        _metrics.Batches.Add(1, new KeyValuePair<string, object?>("http.response.status_code", response.Status));
        if (response.Verdict == BatchVerdict.Accepted)
        {
            _metrics.Fill.Record(batch.Count / (double)_options.MaxBatchEvents);
            _metrics.Bytes.Record(batch.Sum(e => e.TrackJson.Length + 1) + SegmentBatchClient.EnvelopeBytes(0));
            var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
            foreach (var e in batch)
            {
                if (e.ReceivedAtMs > 0)
                {
                    _metrics.Age.Record(Math.Max(0, nowMs - e.ReceivedAtMs) / 1000.0);
                }
            }

            settled.AddRange(batch);
            return;
        }

        if (batch.Count == 1)
        {
            await DeadLetterAsync(batch[0], DeadLetterReasons.SegmentRejected, $"HTTP {response.Status}: {response.Detail}", lane).ConfigureAwait(false);
            settled.Add(batch[0]);
            return;
        }

        // Isolate the bad event(s): halves in order, so each person's order holds.
        var half = batch.Count / 2;
        await SendSplittingAsync(lane, source, batch[..half], settled).ConfigureAwait(false);
        await SendSplittingAsync(lane, source, batch[half..], settled).ConfigureAwait(false);
    }

    private void DeadLetter(IReadOnlyList<PendingEvent> events, string reason, string detail, Lane? lane)
    {
        _ = _start(async () =>
        {
            foreach (var e in events)
            {
                await DeadLetterAsync(e, reason, detail, lane).ConfigureAwait(false);
            }

            _completions.Enqueue(new Completion(lane ?? new Lane(""), events, [], CompletionKind.Done, Parked: false));
        });
    }

    private async Task DeadLetterAsync(PendingEvent e, string reason, string detail, Lane? lane)
    {
        var headers = DeadLetters.Headers(e.Headers, reason, detail, Stage, e.Origin);

        // Until the dead letter is stored, the event is not settled (and its offset not committed).
        while (true)
        {
            if (lane is not null)
            {
                Volatile.Write(ref lane.LastAttempt, _time.GetTimestamp());
            }

            try
            {
                await _deadLetters.ProduceAsync(_options.DeadLetterTopic, new Message<byte[]?, byte[]?> { Key = e.Key, Value = e.TrackJson, Headers = headers }, _abandon.Token).ConfigureAwait(false);
                _metrics.DeadLettered.Add(1, new KeyValuePair<string, object?>("reason", reason));
                _logger.LogWarning("Event {MessageId} of source {Source} dead-lettered: {Reason} ({Detail}).", e.MessageId, e.SourceId, reason, detail);
                return;
            }
            catch (ProduceException<byte[]?, byte[]?> ex) when (ex.Error.IsFatal)
            {
                // The producer is unusable (librdkafka's fatal idempotence errors): retrying would hold the lane
                // and its partitions' commits forever. The loop stops the process; the restart sends the batch again.
                _fatal ??= ex;
                throw;
            }
            catch (ProduceException<byte[]?, byte[]?> ex)
            {
                _logger.LogWarning("Dead-letter write failed ({Code}); retrying.", ex.Error.Code);
                await Task.Delay(_options.RetryBaseDelay, _time, _abandon.Token).ConfigureAwait(false);
            }
        }
    }

    private void Settle()
    {
        while (_completions.TryDequeue(out var completion))
        {
            var lane = completion.Lane;
            lane.InFlight = false;
            foreach (var e in completion.Settled)
            {
                if (IsHeld(e))
                {
                    _held!.Settled(e);
                }
                else
                {
                    _progress.Settled(e.Origin);
                }
            }

            Unhold(completion.Settled);
            if (completion.Parked && completion.Settled.Count > 0)
            {
                lane.Delivery!.Parked += completion.Settled.Count;
                _metrics.Parked.Add(completion.Settled.Count, new KeyValuePair<string, object?>("source", lane.Source));
            }

            if (completion.Unsent.Count > 0)
            {
                lane.Retry = [.. completion.Unsent];
                if (completion.Kind == CompletionKind.Held)
                {
                    // Parked next, at once and first in the lane: the person's order holds.
                    lane.RetryAfter = _time.GetTimestamp();
                }
                else
                {
                    lane.Failures++;
                    var pause = TimeSpan.FromTicks(Math.Min(_options.RetryBaseDelay.Ticks << Math.Min(lane.Failures - 1, 20), _options.RetryMaxDelay.Ticks));
                    lane.RetryAfter = TimestampAfter(pause);
                }
            }
            else if (completion.Settled.Count > 0)
            {
                lane.Failures = 0;
            }

            if (completion.Settled.Count > 0)
            {
                lane.HoldingSince = _time.GetTimestamp();
            }
        }
    }

    private void CommitSettled()
    {
        _lastCommit = _time.GetTimestamp();
        CommitHeld();
        var offsets = _progress.Committable();
        if (offsets.Count == 0)
        {
            return;
        }

        try
        {
            _consumer.Commit(offsets);
            _progress.MarkCommitted(offsets);
        }
        catch (KafkaException e)
        {
            _logger.LogWarning(e, "Offset commit failed ({Code}); it is retried with the next commit.", e.Error.Code);
        }
    }

    private void CommitHeld()
    {
        try
        {
            _held?.Commit();
        }
        catch (KafkaException e)
        {
            _logger.LogWarning(e, "Held offset commit failed ({Code}); it is retried with the next commit.", e.Error.Code);
        }
    }

    /// <summary>
    /// Errors that say nothing about the record: the registry did not answer, or answered with an error
    /// (<c>SchemaRegistryException</c> is an <c>HttpRequestException</c>; even "schema not found" means a
    /// registry that is down, being restored or misconfigured far more often than a bad record, and dead-lettering
    /// every record until an operator notices would be worse than waiting, which the metric and logs show).
    /// </summary>
    private static bool IsRegistryUnavailable(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case HttpRequestException or TimeoutException or OperationCanceledException or System.Net.Sockets.SocketException:
                    return true;
                case AggregateException aggregate when aggregate.InnerExceptions.Any(IsRegistryUnavailable):
                    return true;
            }
        }

        return false;
    }

    /// <summary>The <see cref="TimeProvider"/> timestamp <paramref name="delay"/> from now.</summary>
    private long TimestampAfter(TimeSpan delay) => _time.GetTimestamp() + (long)(delay.TotalSeconds * _time.TimestampFrequency);

    private void ResumeAfterRegistryWait()
    {
        if (_registryWait.Count == 0)
        {
            return;
        }

        var now = _time.GetTimestamp();
        var due = _registryWait.Where(w => w.Value <= now).Select(w => w.Key).ToList();
        foreach (var tp in due)
        {
            _registryWait.Remove(tp);
        }

        var resume = due.Where(tp => !_paused && _consumer.Assignment.Contains(tp)).ToList();
        if (resume.Count > 0)
        {
            _consumer.Resume(resume);
        }

        var resumeHeld = _held is null ? [] : due.Where(tp => !_heldPaused.Contains(tp) && _held.Consumer.Assignment.Contains(tp)).ToList();
        if (resumeHeld.Count > 0)
        {
            _held!.Consumer.Resume(resumeHeld);
        }
    }

    /// <summary>
    /// Over <see cref="PublisherOptions.MaxBufferedEvents"/> or <see cref="PublisherOptions.MaxBufferedBytes"/>,
    /// every assigned partition is paused, also those assigned while paused; below half of both, resumed.
    /// </summary>
    private void Backpressure()
    {
        BackpressureHeld();

        // The sink path only: what the held path holds (a source Segment still refuses) never pauses other sources.
        var buffered = Volatile.Read(ref _buffered) - _heldBuffered;
        var bytes = Interlocked.Read(ref _bufferedBytes) - _heldBufferedBytes;
        if (!_paused && (buffered >= _options.MaxBufferedEvents || bytes >= _options.MaxBufferedBytes))
        {
            _paused = true;
            _logger.LogWarning("{Buffered} events ({Bytes} bytes) held; pausing consumption until Segment takes them.", buffered, bytes);
        }
        else if (_paused && buffered < _options.MaxBufferedEvents / 2 && bytes < _options.MaxBufferedBytes / 2)
        {
            _paused = false;
            var resume = _backpressurePaused.Where(tp => !_registryWait.ContainsKey(tp)).ToList();
            _backpressurePaused.Clear();
            if (resume.Count > 0)
            {
                _consumer.Resume(resume);
            }

            _logger.LogInformation("Resuming consumption ({Buffered} events, {Bytes} bytes held).", buffered, bytes);
            return;
        }

        if (_paused)
        {
            // Partitions assigned since the pause began are paused too.
            var pause = _consumer.Assignment.Where(tp => !_backpressurePaused.Contains(tp)).ToList();
            if (pause.Count > 0)
            {
                _consumer.Pause(pause);
                _backpressurePaused.UnionWith(pause);
            }
        }
    }

    /// <summary>
    /// The held path reads no more than <see cref="PublisherOptions.MaxBufferedBytesPerSource"/> (or half of
    /// <see cref="PublisherOptions.MaxBufferedEvents"/>) ahead of what Segment took: over it, the held
    /// partitions are paused until back under half.
    /// </summary>
    private void BackpressureHeld()
    {
        if (_held is null)
        {
            return;
        }

        var over = _heldBufferedBytes >= _options.MaxBufferedBytesPerSource || _heldBuffered >= _options.MaxBufferedEvents / 2;
        var under = _heldBufferedBytes < _options.MaxBufferedBytesPerSource / 2 && _heldBuffered < _options.MaxBufferedEvents / 4;
        if (over)
        {
            var pause = _held.Consumer.Assignment.Where(tp => !_heldPaused.Contains(tp)).ToList();
            if (pause.Count > 0)
            {
                _held.Consumer.Pause(pause);
                _heldPaused.UnionWith(pause);
                _logger.LogWarning("The held path holds {Buffered} events ({Bytes} bytes) Segment has not taken yet; reading the held topic pauses until it takes them.", _heldBuffered, _heldBufferedBytes);
            }
        }
        else if (under && _heldPaused.Count > 0)
        {
            var resume = _heldPaused.Where(tp => !_registryWait.ContainsKey(tp) && _held.Consumer.Assignment.Contains(tp)).ToList();
            _heldPaused.Clear();
            if (resume.Count > 0)
            {
                _held.Consumer.Resume(resume);
            }
        }
    }

    private RateBudget Rate(string source)
    {
        if (!_rates.TryGetValue(source, out var budget))
        {
            budget = new RateBudget(_options.MaxRequestsPerSecondPerSource, _time);
            budget.SetShare(_share);
            _rates[source] = budget;
        }

        return budget;
    }

    private double _share = 1;

    /// <summary>
    /// The share of the sink topic's partitions this publisher owns: each source's rate budget is that share
    /// of <see cref="PublisherOptions.MaxRequestsPerSecondPerSource"/>, so the instances together stay within it.
    /// </summary>
    private void UpdateShare()
    {
        if (_partitionCount is null)
        {
            return;
        }

        if (_sinkPartitions is null || _time.GetElapsedTime(_sinkPartitionsAt) > TimeSpan.FromMinutes(1))
        {
            _sinkPartitionsAt = _time.GetTimestamp();
            try
            {
                _sinkPartitions = _partitionCount(_options.InputTopic) ?? _sinkPartitions;
            }
            catch (KafkaException e)
            {
                _logger.LogDebug(e, "Reading the partition count of {Topic} failed; the rate budget keeps its share.", _options.InputTopic);
            }
        }

        if (_sinkPartitions is not > 0)
        {
            return;
        }

        var owned = _consumer.Assignment.Count(tp => tp.Topic == _options.InputTopic);
        var share = owned == 0 ? 1.0 / _sinkPartitions.Value : owned / (double)_sinkPartitions.Value;
        if (Math.Abs(share - _share) > 1e-9)
        {
            _share = share;
            foreach (var budget in _rates.Values)
            {
                budget.SetShare(share);
            }
        }
    }

    private enum CompletionKind
    {
        /// <summary>Every event settled (delivered, dead-lettered or parked), or abandoned at shutdown.</summary>
        Done,

        /// <summary>Sending or parking failed unexpectedly: the rest goes again after a pause.</summary>
        Failed,

        /// <summary>The source started holding while the batch was retried: the rest is parked next.</summary>
        Held,
    }

    /// <summary>What a lane's task did with a batch, applied by the loop.</summary>
    private sealed record Completion(Lane Lane, IReadOnlyList<PendingEvent> Settled, IReadOnlyList<PendingEvent> Unsent, CompletionKind Kind, bool Parked);
}
