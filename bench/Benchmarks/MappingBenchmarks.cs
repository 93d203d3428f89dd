using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using CioSegment.Mapping;
using CioSegment.Mapping.Settings;

namespace CioSegment.Benchmarks;

/// <summary>
/// The mapping hot path over a realistic mix of reporting webhooks (<see cref="ReportingWebhookCorpus"/>).
/// Each benchmark handles the whole corpus once per invocation with one reused mapper and one reused
/// output buffer, as a consumer loop does; <c>OperationsPerInvoke</c> makes every figure per event.
/// </summary>
/// <remarks>
/// Warm-up is long on purpose: on one core, tiered compilation (tier 0, instrumented tier, tier 1 with
/// dynamic PGO) needs several seconds of steady running before the code is fully optimised. After the
/// pilot stage, 15 warm-up iterations of BenchmarkDotNet's default 500 ms give it another 7.5 s or so
/// per benchmark. The class runs in about 1.5 minutes on two cores; the whole suite takes about four
/// minutes, build included. Results are in docs/benchmarks.md.
/// </remarks>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 15, iterationCount: 15)]
public class MappingBenchmarks
{
    /// <summary>Events in the corpus, and so operations per invocation.</summary>
    public const int EventCount = 1024;

    /// <summary>Seed of the corpus: every run measures the same bytes.</summary>
    public const int Seed = 20_210_616;

    private static readonly DateTimeOffset ReceivedAt = new(2024, 6, 11, 12, 0, 0, TimeSpan.Zero);

    private readonly SegmentTrackMapper _mapper = new();
    private readonly SourceSettings _defaults = SourceSettings.ForMapping();
    private readonly SourceSettings _withBodyContent = SourceSettings.ForMapping(bodyContent: true);

    // Large enough for any one event (Segment caps them at 32 KB), so it never grows while measuring.
    private readonly ArrayBufferWriter<byte> _output = new(SegmentTrackMapper.MaxEventBytes);

    private byte[][] _bodies = [];
    private ParsedWebhook[] _parsed = [];

    [GlobalSetup]
    public void Setup()
    {
        _bodies = ReportingWebhookCorpus.Generate(EventCount, Seed);
        _parsed = new ParsedWebhook[_bodies.Length];
        for (var i = 0; i < _bodies.Length; i++)
        {
            if (!ReportingWebhookParser.TryParse(_bodies[i], out _parsed[i], out var error))
            {
                throw new InvalidOperationException($"Corpus event {i} does not parse ({error.Reason}: {error.Detail}).");
            }
        }

        // The benchmarks must measure the success path: every event has to map, under each settings variant.
        Verify(_defaults);
        Verify(_withBodyContent);
        Console.WriteLine($"// Corpus: {Describe(_bodies)}");
    }

    /// <summary>Parse and map every event with the default settings (body content off).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = EventCount)]
    public long Map() => MapAll(_defaults);

    /// <summary>Parse and map every event with body content on (sent events carry data.content).</summary>
    [Benchmark(OperationsPerInvoke = EventCount)]
    public long MapWithBodyContent() => MapAll(_withBodyContent);

    /// <summary>Only the parse: <see cref="ReportingWebhookParser.TryParse"/> over every event.</summary>
    [Benchmark(OperationsPerInvoke = EventCount)]
    public long Parse()
    {
        long sum = 0;
        var bodies = _bodies;
        for (var i = 0; i < bodies.Length; i++)
        {
            ReportingWebhookParser.TryParse(bodies[i], out var parsed, out _);
            sum += parsed[WebhookField.Data].Length;
        }

        return sum;
    }

    /// <summary>Only the writing: maps webhooks parsed in setup (the mapper's other <c>Map</c> overload).</summary>
    [Benchmark(OperationsPerInvoke = EventCount)]
    public long MapPreParsed()
    {
        long sum = 0;
        var bodies = _bodies;
        var parsed = _parsed;
        var output = _output;
        for (var i = 0; i < bodies.Length; i++)
        {
            output.ResetWrittenCount();
            sum += _mapper.Map(bodies[i], in parsed[i], _defaults, ReceivedAt, output).BytesWritten;
        }

        return sum;
    }

    private long MapAll(SourceSettings settings)
    {
        long sum = 0;
        var bodies = _bodies;
        var output = _output;
        var mapper = _mapper;
        for (var i = 0; i < bodies.Length; i++)
        {
            output.ResetWrittenCount();
            sum += mapper.Map(bodies[i], settings, ReceivedAt, output).BytesWritten;
        }

        return sum;
    }

    private void Verify(SourceSettings settings)
    {
        for (var i = 0; i < _bodies.Length; i++)
        {
            _output.ResetWrittenCount();
            var result = _mapper.Map(_bodies[i], settings, ReceivedAt, _output);
            if (result.Outcome != MapOutcome.Mapped)
            {
                throw new InvalidOperationException(
                    $"Corpus event {i} was not mapped ({result.Outcome} {result.SkipReason} {result.Error}); "
                    + $"the benchmark would measure the failure path. Body: {System.Text.Encoding.UTF8.GetString(_bodies[i])}");
            }

            // The output must be one well-formed JSON object.
            using var document = JsonDocument.Parse(_output.WrittenMemory);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidOperationException($"Corpus event {i} mapped to a JSON {document.RootElement.ValueKind}, not an object.");
            }
        }

        _output.ResetWrittenCount();
    }

    private static string Describe(byte[][] bodies)
    {
        var sizes = bodies.Select(b => b.Length).Order().ToArray();
        var byChannel = bodies
            .GroupBy(b => JsonDocument.Parse(b).RootElement.GetProperty("object_type").GetString())
            .OrderByDescending(g => g.Count())
            .Select(g => $"{g.Key} {g.Count()}");
        return $"{bodies.Length} webhooks, {sizes.Sum()} bytes; size min {sizes[0]}, p10 {sizes[sizes.Length / 10]}, "
            + $"median {sizes[sizes.Length / 2]}, p90 {sizes[sizes.Length * 9 / 10]}, max {sizes[^1]}; {string.Join(", ", byChannel)}";
    }
}
