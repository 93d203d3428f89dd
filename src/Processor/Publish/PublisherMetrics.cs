using System.Diagnostics.Metrics;
using CioSegment.Contracts;

namespace CioSegment.Processor.Publish;

/// <summary>The publisher's counters and histograms (the gauges observe its state and live beside it).</summary>
internal sealed class PublisherMetrics
{
    public PublisherMetrics(Meter meter)
    {
        Batches = meter.CreateCounter<long>("cio.publisher.batches", "{batch}", "Batch requests by Segment's answer (status).");
        Retries = meter.CreateCounter<long>("cio.publisher.retries", "{retry}", "Batch requests retried.");
        DeadLettered = meter.CreateCounter<long>("cio.publisher.dead_lettered", "{event}", "Events Segment rejected, parked in the dead-letter topic.");
        SendFailures = meter.CreateCounter<long>("cio.publisher.send_failures", "{batch}", "Batches whose sending failed unexpectedly (not an answer of Segment's); they are sent again after a pause.");
        SendFailures.Add(0);
        RegistryErrors = meter.CreateCounter<long>("cio.publisher.registry_errors", "{record}", "Sink records that could not be read because the Schema Registry did not answer; read again after a pause, never dead-lettered.");
        RegistryErrors.Add(0);
        Parked = meter.CreateCounter<long>("cio.publisher.parked", "{event}", "Events parked in the held topic because their source was holding (or their person had held events), by source.");

        // Series the alerts watch start at 0, so that their first increment after a start counts in increase().
        Retries.Add(0);
        foreach (var reason in (string[])[DeadLetterReasons.SegmentRejected, DeadLetterReasons.UnknownSource, DeadLetterReasons.InvalidSinkRecord])
        {
            DeadLettered.Add(0, new KeyValuePair<string, object?>("reason", reason));
        }

        foreach (var status in (int[])[200, 400, 401, 403, 404, 429, 500, 503])
        {
            Batches.Add(0, new KeyValuePair<string, object?>("http.response.status_code", status));
        }

        Fill = meter.CreateHistogram(
            "cio.publisher.batch.fill",
            "1",
            "Events per batch as a share of the batch event limit.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1] });
        Bytes = meter.CreateHistogram(
            "cio.publisher.batch.size",
            "By",
            "Request body bytes per batch.",
            tags: null,
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 200_000, 300_000, 400_000, 450_000, 500_000] });
        Age = meter.CreateHistogram(
            "cio.publisher.event.age",
            "s",
            "End-to-end latency: from the ingest receiving a webhook to Segment accepting its event.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600, 21600, 86400] });
    }

    /// <summary>Batch requests by Segment's answer (status).</summary>
    public Counter<long> Batches { get; }

    public Counter<long> Retries { get; }

    public Counter<long> DeadLettered { get; }

    public Counter<long> SendFailures { get; }

    public Counter<long> RegistryErrors { get; }

    /// <summary>Events parked in the held topic, by source.</summary>
    public Counter<long> Parked { get; }

    public Histogram<double> Fill { get; }

    public Histogram<long> Bytes { get; }

    /// <summary>End-to-end latency at delivery.</summary>
    public Histogram<double> Age { get; }
}
