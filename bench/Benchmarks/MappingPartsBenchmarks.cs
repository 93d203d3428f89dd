using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using CioSegment.Mapping;
using CioSegment.Mapping.Settings;

namespace CioSegment.Benchmarks;

/// <summary>
/// Where the time of <see cref="MappingBenchmarks.Map"/> goes, for reading its figures: pieces of the
/// mapping measured alone on the same corpus (the timestamp, the event name), and the floors that
/// System.Text.Json and the hardware set (a bare Utf8JsonReader pass over each body, the UTF-8 check, one
/// memcpy of each finished event). Figures are per event and the ratios are against <see cref="Map"/>.
/// The parse and the write alone are <see cref="MappingBenchmarks.Parse"/> and
/// <see cref="MappingBenchmarks.MapPreParsed"/>. Run alone with <c>--filter '*MappingPartsBenchmarks*'</c>.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 12, iterationCount: 12)]
public class MappingPartsBenchmarks
{
    private const int EventCount = MappingBenchmarks.EventCount;

    private static readonly DateTimeOffset ReceivedAt = new(2024, 6, 11, 12, 0, 0, TimeSpan.Zero);

    private readonly SegmentTrackMapper _mapper = new();
    private readonly SourceSettings _settings = SourceSettings.ForMapping();
    private readonly ArrayBufferWriter<byte> _output = new(SegmentTrackMapper.MaxEventBytes);

    private byte[][] _bodies = [];
    private ParsedWebhook[] _parsed = [];
    private byte[][] _mapped = [];
    private byte[][] _objectTypes = [];
    private byte[][] _metrics = [];

    [GlobalSetup]
    public void Setup()
    {
        _bodies = ReportingWebhookCorpus.Generate(EventCount, MappingBenchmarks.Seed);
        _parsed = new ParsedWebhook[EventCount];
        _mapped = new byte[EventCount][];
        _objectTypes = new byte[EventCount][];
        _metrics = new byte[EventCount][];
        for (var i = 0; i < EventCount; i++)
        {
            if (!ReportingWebhookParser.TryParse(_bodies[i], out _parsed[i], out var error))
            {
                throw new InvalidOperationException($"Corpus event {i} does not parse ({error.Reason}).");
            }

            _output.ResetWrittenCount();
            var result = _mapper.Map(_bodies[i], _settings, ReceivedAt, _output);
            if (result.Outcome != MapOutcome.Mapped)
            {
                throw new InvalidOperationException($"Corpus event {i} was not mapped ({result.Outcome}).");
            }

            _mapped[i] = _output.WrittenSpan.ToArray();
            _objectTypes[i] = _parsed[i][WebhookField.ObjectType].Content(_bodies[i]).ToArray();
            _metrics[i] = _parsed[i][WebhookField.Metric].Content(_bodies[i]).ToArray();
        }
    }

    /// <summary>The whole mapping, for reference (same as <see cref="MappingBenchmarks.Map"/>).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = EventCount)]
    public long Map()
    {
        long sum = 0;
        for (var i = 0; i < _bodies.Length; i++)
        {
            _output.ResetWrittenCount();
            sum += _mapper.Map(_bodies[i], _settings, ReceivedAt, _output).BytesWritten;
        }

        return sum;
    }

    /// <summary>Stage 1 of the parse: the UTF-8 check of the whole body.</summary>
    [Benchmark(OperationsPerInvoke = EventCount)]
    public int Utf8Check()
    {
        var valid = 0;
        foreach (var body in _bodies)
        {
            valid += Utf8.IsValid(body) ? 1 : 0;
        }

        return valid;
    }

    /// <summary>Floor of any parse built on Utf8JsonReader: read every token once and do nothing with it.</summary>
    [Benchmark(OperationsPerInvoke = EventCount)]
    public long ReaderScan()
    {
        long tokens = 0;
        foreach (var body in _bodies)
        {
            var reader = new Utf8JsonReader(body);
            while (reader.Read())
            {
                tokens++;
            }
        }

        return tokens;
    }

    /// <summary>Floor of the writing: one copy of each finished track event into the output buffer.</summary>
    [Benchmark(OperationsPerInvoke = EventCount)]
    public long OutputCopy()
    {
        long sum = 0;
        foreach (var json in _mapped)
        {
            _output.ResetWrittenCount();
            json.CopyTo(_output.GetSpan(json.Length));
            _output.Advance(json.Length);
            sum += json.Length;
        }

        return sum;
    }

    /// <summary>The event name (object_type and metric to "Email Link Clicked").</summary>
    [Benchmark(OperationsPerInvoke = EventCount)]
    public long EventName()
    {
        Span<byte> name = stackalloc byte[EventNames.MaxNameBytes];
        long sum = 0;
        for (var i = 0; i < _objectTypes.Length; i++)
        {
            sum += EventNames.Write(_objectTypes[i], _metrics[i], name);
        }

        return sum;
    }

    /// <summary>The timestamp: read unix seconds from the body, format ISO-8601.</summary>
    [Benchmark(OperationsPerInvoke = EventCount)]
    public long Timestamp()
    {
        Span<byte> time = stackalloc byte[EventTime.MaxFormattedBytes];
        long sum = 0;
        for (var i = 0; i < _bodies.Length; i++)
        {
            EventTime.TryRead(_parsed[i][WebhookField.Timestamp], _bodies[i], out var millis);
            sum += EventTime.Format(millis, time);
        }

        return sum;
    }
}
